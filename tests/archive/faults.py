"""Fault injection at the ports: wrappers that delegate to a real adapter and fail on cue.

``FaultyStore`` is an ``ArchiveStore`` and ``FaultyBundleJournal`` a
``BundleJournal``; each asks its ``fail`` callback before a write and lets it
raise. Nothing of the project is patched: the code under test gets a port.
"""

from __future__ import annotations

from collections.abc import Callable, Iterator, Sequence
from concurrent.futures import Future
from typing import Any, BinaryIO

from archive.journal import BundleJournal, BundleRow, JournalStats, RowSource, SealRow
from archive.model import Record
from archive.store import ArchiveStore, LockInfo, ObjectVersion, Retention


def never(_: object) -> None:
    """A fail callback that lets every call through."""


class FaultyStore:
    """An ``ArchiveStore`` whose ``put`` calls ``fail(key)`` first."""

    def __init__(self, inner: ArchiveStore, fail: Callable[[str], None] = never) -> None:
        self.inner = inner
        self.bucket = inner.bucket
        self.fail = fail

    def lock_info(self) -> LockInfo:
        return self.inner.lock_info()

    def put(self, key: str, data: bytes, *, sha256_hex: str, retention: Retention) -> str:
        self.fail(key)
        return self.inner.put(key, data, sha256_hex=sha256_hex, retention=retention)

    def put_stream(
        self, key: str, stream: BinaryIO, *, size: int, sha256_hex: str, retention: Retention
    ) -> str:
        self.fail(key)
        return self.inner.put_stream(
            key, stream, size=size, sha256_hex=sha256_hex, retention=retention
        )

    def get(self, key: str, version_id: str) -> bytes:
        return self.inner.get(key, version_id)

    def get_range(self, key: str, version_id: str, offset: int, size: int) -> bytes:
        return self.inner.get_range(key, version_id, offset, size)

    def open(self, key: str, version_id: str) -> BinaryIO:
        return self.inner.open(key, version_id)

    def versions(self, prefix: str) -> Iterator[ObjectVersion]:
        return self.inner.versions(prefix)

    def retention(self, key: str, version_id: str) -> Retention | None:
        return self.inner.retention(key, version_id)

    def extend_retention(self, key: str, version_id: str, retention: Retention) -> None:
        self.inner.extend_retention(key, version_id, retention)

    def delete_version(self, key: str, version_id: str) -> None:
        self.inner.delete_version(key, version_id)

    def legal_hold(self, key: str, version_id: str) -> bool:
        return self.inner.legal_hold(key, version_id)

    def set_legal_hold(self, key: str, version_id: str, on: bool) -> None:
        self.inner.set_legal_hold(key, version_id, on)

    def after_fork(self) -> None:
        self.inner.after_fork()


class FaultyBundleJournal:
    """A ``BundleJournal`` whose ``update_bundle`` calls ``fail(row)`` first."""

    def __init__(self, inner: BundleJournal, fail: Callable[[BundleRow], None] = never) -> None:
        self.inner = inner
        self.fail = fail

    def submit(self, records: Sequence[Record]) -> Future[list[int]]:
        return self.inner.submit(records)

    def append(self, records: Sequence[Record]) -> list[int]:
        return self.inner.append(records)

    def get(self, key: str) -> Record | None:
        return self.inner.get(key)

    def contains(self, keys: Sequence[str]) -> set[str]:
        return self.inner.contains(keys)

    def iter_records(self, after_seq: int = 0, limit: int | None = None) -> Iterator[Record]:
        return self.inner.iter_records(after_seq, limit)

    def find_records(self, platform: str, **filters: Any) -> Iterator[Record]:
        return self.inner.find_records(platform, **filters)

    def stats(self, stream: str) -> JournalStats:
        return self.inner.stats(stream)

    def unfinished_bundles(self, stream: str) -> list[BundleRow]:
        return self.inner.unfinished_bundles(stream)

    def open_bundle(self, stream: str, **limits: Any) -> BundleRow | None:
        return self.inner.open_bundle(stream, **limits)

    def bundle_rows(self, stream: str, number: int) -> Iterator[SealRow]:
        return self.inner.bundle_rows(stream, number)

    def row_source(self) -> RowSource:
        return self.inner.row_source()

    def update_bundle(self, row: BundleRow) -> None:
        self.fail(row)
        self.inner.update_bundle(row)

    def bundles(self, stream: str) -> list[BundleRow]:
        return self.inner.bundles(stream)

    def bundle(self, stream: str, number: int) -> BundleRow | None:
        return self.inner.bundle(stream, number)


class CountingRows:
    """A ``RowSource`` that counts each seq range it is asked for (in this process)."""

    def __init__(self, inner: RowSource) -> None:
        self.inner = inner
        self.reads: list[tuple[int, int]] = []

    def rows(self, first: int, last: int) -> Iterator[SealRow]:
        self.reads.append((first, last))
        return self.inner.rows(first, last)


class CountingBundleJournal(FaultyBundleJournal):
    """A ``BundleJournal`` that counts every read of a bundle's rows, by either method."""

    def __init__(self, inner: BundleJournal) -> None:
        super().__init__(inner)
        self.source = CountingRows(inner.row_source())

    def bundle_rows(self, stream: str, number: int) -> Iterator[SealRow]:
        row = self.inner.bundle(stream, number)
        assert row is not None
        return self.source.rows(row.seq_first, row.seq_last)

    def row_source(self) -> RowSource:
        return self.source
