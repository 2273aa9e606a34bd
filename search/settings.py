"""The ``[search]`` settings section."""

from __future__ import annotations

import os
from dataclasses import dataclass

from archive.errors import ConfigError

BACKENDS = ("sqlite", "postgres")


@dataclass(frozen=True)
class SearchSettings:
    backend: str = "sqlite"  # sqlite (FTS5 in the state directory) | postgres
    path: str = "search.db"  # SQLite index file, relative to the state directory
    dsn: str = ""  # PostgreSQL for backend = "postgres"; empty: journal.dsn
    index_after_seal: bool = True  # index new bundles right after each successful seal
    index_workers: int = 0  # processes reading bundles in chatkeeper index; 0: per CPU, up to 4

    def __post_init__(self) -> None:
        if self.backend not in BACKENDS:
            raise ConfigError(f"search.backend must be sqlite or postgres, not {self.backend!r}")
        if self.index_workers < 0:
            raise ConfigError("search.index_workers must be 0 (automatic) or more")

    @property
    def workers(self) -> int:
        """Processes for ``chatkeeper index``."""
        return self.index_workers or min(4, os.cpu_count() or 1)
