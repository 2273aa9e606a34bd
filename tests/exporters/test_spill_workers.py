"""Bundles read, verified and spilled in forked workers give exactly one process's export."""

from __future__ import annotations

import io
import os
from pathlib import Path
from typing import BinaryIO

import pytest

from archive.clock import FixedClock
from archive.errors import IntegrityError, RenderWorkerError
from archive.journal.sqlite import SqliteJournal
from archive.keys import Signer
from archive.seal import SealPolicy
from archive.store.port import ArchiveStore
from archive.store.s3 import S3ArchiveStore
from exporters.archive_source import ArchiveBlobs, ArchiveBundleSource
from exporters.filters import Filters
from exporters.spill import _ranges
from tests.archive.faults import FaultyStore
from tests.exporters.export_fixtures import run
from tests.exporters.test_later_references import _seal_all


class _Numbered:
    """A source that lists the given bundle numbers (all ``_ranges`` asks of it)."""

    def __init__(self, numbers: list[int]) -> None:
        self.numbers = numbers

    def bundle_numbers(self, first: int | None, last: int | None) -> list[int]:
        return [n for n in self.numbers if n >= (first or 1) and (last is None or n <= last)]


def test_ranges_are_contiguous_and_never_start_after_a_gap() -> None:
    """Ranges cover every bundle once; none starts right after a missing number."""
    assert _ranges(_Numbered([1, 2, 3, 4, 5, 6]), Filters(), 2) == [(1, 3), (4, None)]
    assert _ranges(_Numbered([1, 2, 3, 5, 6, 7]), Filters(), 2) == [(1, 5), (6, None)]
    assert _ranges(_Numbered(list(range(1, 10))), Filters(), 3) == [(1, 3), (4, 6), (7, None)]
    assert _ranges(_Numbered([1, 3, 5]), Filters(), 2) == []  # no place to cut: one process
    assert _ranges(_Numbered([1]), Filters(), 4) == []
    assert _ranges(_Numbered([1, 2, 3, 4]), Filters(), 1) == []
    window = Filters(first_bundle=2, last_bundle=5)
    assert _ranges(_Numbered([1, 2, 3, 4, 5, 6]), window, 2) == [(2, 3), (4, 5)]


def _source(
    journal: SqliteJournal,
    store: S3ArchiveStore,
    signer: Signer,
    policy: SealPolicy,
    clock: FixedClock,
    reading: ArchiveStore | None = None,
) -> ArchiveBundleSource:
    """The six bundles of ``test_later_references`` sealed, read through ``reading``."""
    sealed = _seal_all(journal, store, signer, policy, clock)
    return ArchiveBundleSource(reading or store, policy.layout, sealed.keys)


def _bundle_records(key: str, number: int) -> bool:
    return key.endswith("records.jsonl.zst") and key.split("/")[-2].lstrip("0") == str(number)


@pytest.mark.parametrize("fmt", ["rsmf", "html", "eml", "csv", "slack"])
def test_workers_export_the_same_bytes_as_one_process(
    fmt: str,
    journal: SqliteJournal,
    store: S3ArchiveStore,
    signer: Signer,
    policy: SealPolicy,
    clock: FixedClock,
    tmp_path: Path,
) -> None:
    """Six bundles whose later ones edit, react to and delete earlier messages, read by one
    process and by two and three workers: the same files, bundles, counts and progress."""
    source = _source(journal, store, signer, policy, clock)
    blobs = ArchiveBlobs(store, policy.layout)
    one = run(fmt, tmp_path / "one", source=source, blobs=blobs, workers=1)
    assert [b.number for b in one.bundles] == [1, 2, 3, 4, 5, 6]
    for workers in (2, 3):
        many = run(fmt, tmp_path / str(workers), source=source, blobs=blobs, workers=workers)
        assert [(f.path, f.sha256, f.size) for f in many.files] == [
            (f.path, f.sha256, f.size) for f in one.files
        ]
        assert many.bundles == one.bundles
        assert many.records_read == one.records_read == 13


def test_filtered_export_in_workers_reads_what_one_process_reads(
    journal: SqliteJournal,
    store: S3ArchiveStore,
    signer: Signer,
    policy: SealPolicy,
    clock: FixedClock,
    tmp_path: Path,
) -> None:
    """A filter and a bundle window apply in every worker as in one process."""
    from tests.exporters.test_later_references import FILTERS

    source = _source(journal, store, signer, policy, clock)
    blobs = ArchiveBlobs(store, policy.layout)
    one = run("html", tmp_path / "one", source=source, blobs=blobs, filters=FILTERS)
    two = run("html", tmp_path / "two", source=source, blobs=blobs, filters=FILTERS, workers=2)
    assert [(f.path, f.sha256) for f in two.files] == [(f.path, f.sha256) for f in one.files]
    assert (two.bundles, two.records_read) == (one.bundles, one.records_read)
    window = Filters(first_bundle=2, last_bundle=5)
    one = run("csv", tmp_path / "w1", source=source, blobs=blobs, filters=window)
    two = run("csv", tmp_path / "w2", source=source, blobs=blobs, filters=window, workers=2)
    assert [b.number for b in two.bundles] == [2, 3, 4, 5]
    assert [(f.path, f.sha256) for f in two.files] == [(f.path, f.sha256) for f in one.files]


class _Corrupt(FaultyStore):
    """Bundle 5's records object with one byte changed on the way in."""

    def open(self, key: str, version_id: str) -> BinaryIO:
        data = self.inner.open(key, version_id).read()
        if _bundle_records(key, 5):
            data = data[:-9] + bytes([data[-9] ^ 1]) + data[-8:]
        return io.BytesIO(data)


class _Dying(FaultyStore):
    """A store whose process dies (as under the OOM killer) when it opens bundle 5's records."""

    def open(self, key: str, version_id: str) -> BinaryIO:
        if _bundle_records(key, 5):
            os._exit(9)
        return self.inner.open(key, version_id)


def test_tampered_bundle_in_a_worker_is_refused_as_in_one_process(
    journal: SqliteJournal,
    store: S3ArchiveStore,
    signer: Signer,
    policy: SealPolicy,
    clock: FixedClock,
    tmp_path: Path,
) -> None:
    """Verification fails closed in a worker with the message one process gives."""
    source = _source(journal, store, signer, policy, clock, _Corrupt(store))
    with pytest.raises(IntegrityError) as alone:
        run("rsmf", tmp_path / "one", source=source, workers=1)
    with pytest.raises(IntegrityError) as shared:
        run("rsmf", tmp_path / "two", source=source, workers=2)
    assert "bundle 5" in str(alone.value)
    assert str(shared.value) == str(alone.value)
    unverified = run("rsmf", tmp_path / "u", source=source, workers=2, allow_unverified=True)
    assert [b.number for b in unverified.bundles if not b.verified] == [5]


def test_worker_that_dies_fails_the_export_instead_of_hanging(
    journal: SqliteJournal,
    store: S3ArchiveStore,
    signer: Signer,
    policy: SealPolicy,
    clock: FixedClock,
    tmp_path: Path,
) -> None:
    """A worker killed while reading its bundles is reported with its exit code."""
    source = _source(journal, store, signer, policy, clock, _Dying(store))
    with pytest.raises(RenderWorkerError, match="exit codes"):
        run("html", tmp_path / "out", source=source, workers=2)
