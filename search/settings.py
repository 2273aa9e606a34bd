"""The ``[search]`` settings section."""

from __future__ import annotations

from dataclasses import dataclass

from archive.errors import ConfigError

BACKENDS = ("sqlite", "postgres")


@dataclass(frozen=True)
class SearchSettings:
    backend: str = "sqlite"  # sqlite (FTS5 in the state directory) | postgres
    path: str = "search.db"  # SQLite index file, relative to the state directory
    dsn: str = ""  # PostgreSQL for backend = "postgres"; empty: journal.dsn
    index_after_seal: bool = True  # index new bundles right after each successful seal

    def __post_init__(self) -> None:
        if self.backend not in BACKENDS:
            raise ConfigError(
                f'search.backend must be "sqlite" or "postgres", not {self.backend!r}'
            )
