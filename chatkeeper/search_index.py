"""The configured search index, its trusted keys, and its update after each seal.

The index is built from sealed bundles read and verified with the same
trusted keys as ``chatkeeper verify`` (``archive.keys.trusted_keys``), never
from the journal. After a seal that produced bundles, ``index_after_seal``
(called by ``chatkeeper seal``, and by ``serve``'s ``SealJob`` as one of its
``after_seal`` hooks) indexes the new bundles; a failure there is logged and
never undoes or fails the seal: ``chatkeeper index`` catches up.
"""

from __future__ import annotations

from collections.abc import Callable, Iterator, Sequence
from contextlib import contextmanager
from pathlib import Path

import structlog

from archive.errors import ChatkeeperError, ConfigError
from archive.keys import PublicKey, trusted_keys
from archive.seal import SealReport
from archive.store import ArchiveStore
from chatkeeper import build
from chatkeeper.settings import Settings
from search.indexer import IndexReport, update_index
from search.port import SearchIndex

log = structlog.get_logger("chatkeeper.search")


@contextmanager
def open_index(settings: Settings) -> Iterator[SearchIndex]:
    """The configured search index: SQLite in the state directory, or PostgreSQL."""
    stream = settings.archive.stream
    index: SearchIndex
    if settings.search.backend == "postgres":
        dsn = settings.search.dsn or settings.journal.dsn
        if not dsn:
            raise ConfigError('search.backend = "postgres" needs search.dsn or journal.dsn')
        from search.postgres_index import PostgresSearchIndex

        index = PostgresSearchIndex(dsn, stream)
    else:
        from search.sqlite_index import SqliteSearchIndex

        index = SqliteSearchIndex(settings.search_path, stream)
    try:
        yield index
    finally:
        index.close()


def index_keys(
    settings: Settings,
    store: ArchiveStore,
    key_files: Sequence[Path] = (),
    fingerprints: Sequence[str] = (),
) -> tuple[dict[str, PublicKey], str]:
    """The keys bundles are verified with before they are indexed or exported (as verify)."""
    return trusted_keys(
        store,
        build.layout(settings),
        own_key_dir=settings.home / "keys",
        key_files=key_files,
        fingerprints=fingerprints,
        configured=settings.archive.trusted_keys,
    )


def index_after_seal(
    settings: Settings, store: ArchiveStore, report: SealReport | None = None
) -> IndexReport | None:
    """Index the bundles just sealed (and any not yet indexed); never raises a chatkeeper error."""
    if not settings.search.index_after_seal or (report is not None and not report.bundles):
        return None
    try:
        keys, _ = index_keys(settings, store)
        with open_index(settings) as index:
            result = update_index(index, store, build.layout(settings), keys)
    except ChatkeeperError as exc:
        log.warning("search.index_failed", error=str(exc), hint="run chatkeeper index")
        return None
    if result.refused:
        log.warning("search.bundles_refused", bundles=[r.number for r in result.refused])
    return result


def seal_hook(settings: Settings, store: ArchiveStore) -> Callable[[SealReport], object]:
    """The search index update, for ``SealJob(after_seal=[...])`` in ``serve``."""

    def update_search_index(report: SealReport) -> object:
        return index_after_seal(settings, store, report)

    return update_search_index
