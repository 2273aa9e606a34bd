"""A filtered export reads only the sealed bundles its filters can match, chosen from manifests."""

from __future__ import annotations

from datetime import timedelta
from pathlib import Path
from typing import BinaryIO

import pytest

from archive.clock import FixedClock
from archive.journal.sqlite import SqliteJournal
from archive.keys import Signer
from archive.model import Kind
from archive.seal import SealPolicy, seal
from archive.store.port import ArchiveStore
from archive.store.s3 import S3ArchiveStore
from exporters.archive_source import ArchiveBlobs, ArchiveBundleSource
from tests.archive.faults import FaultyStore
from tests.exporters.export_fixtures import run
from tests.factories import BASE_TIME, slack_message

DAY = timedelta(days=1)


class OpenedRecords(FaultyStore):
    """An ``ArchiveStore`` that notes which bundles' records objects are opened."""

    def __init__(self, inner: ArchiveStore) -> None:
        super().__init__(inner)
        self.opened: list[str] = []

    def open(self, key: str, version_id: str) -> BinaryIO:
        if key.endswith("records.jsonl.zst"):
            self.opened.append(key.split("/")[-2].lstrip("0"))
        return self.inner.open(key, version_id)


@pytest.fixture
def source(
    journal: SqliteJournal,
    store: S3ArchiveStore,
    signer: Signer,
    policy: SealPolicy,
    clock: FixedClock,
) -> ArchiveBundleSource:
    """Four sealed bundles of 50: C1 on day 1, C1 on day 2, C2 on day 3, a C1 edit on day 4."""
    batches = [
        [slack_message(i, channel="C1", at=BASE_TIME + timedelta(minutes=i)) for i in range(50)],
        [
            slack_message(i, channel="C1", at=BASE_TIME + DAY + timedelta(minutes=i))
            for i in range(50, 100)
        ],
        [
            slack_message(i, channel="C2", at=BASE_TIME + 2 * DAY + timedelta(minutes=i))
            for i in range(100, 150)
        ],
        [slack_message(150, channel="C1", kind=Kind.EDIT, at=BASE_TIME + 3 * DAY)],
    ]
    for batch in batches:
        journal.append(batch)
        seal(journal, store, signer, policy, clock)
    keys = {signer.public.key_id: signer.public}
    return ArchiveBundleSource(OpenedRecords(store), policy.layout, keys)


def _filters(**extra: object) -> dict[str, object]:
    from exporters.filters import Filters

    return {
        "filters": Filters(
            conversations=("C1",), start=BASE_TIME + DAY, end=BASE_TIME + 2 * DAY, **extra
        )
    }


def test_jsonl_reads_only_the_bundle_of_the_day(
    source: ArchiveBundleSource, store: S3ArchiveStore, policy: SealPolicy, tmp_path: Path
) -> None:
    """One conversation and one day in jsonl reads the one bundle holding them, and exports it."""
    blobs = ArchiveBlobs(store, policy.layout)
    result = run("jsonl", tmp_path / "out", source=source, blobs=blobs, **_filters())
    assert source.store.opened == ["2"]  # type: ignore[attr-defined]
    assert [b.number for b in result.bundles] == [1, 2, 3, 4]  # all searched, by manifest
    assert result.records_read == 50
    assert all(b.verified for b in result.bundles)


def test_folding_formats_skip_later_bundles_that_refer_to_no_message_in_range(
    source: ArchiveBundleSource, store: S3ArchiveStore, policy: SealPolicy, tmp_path: Path
) -> None:
    """HTML skips a later bundle whose only edit is about a message after the range."""
    blobs = ArchiveBlobs(store, policy.layout)
    result = run("html", tmp_path / "out", source=source, blobs=blobs, **_filters())
    assert source.store.opened == ["2"]  # type: ignore[attr-defined]
    assert result.records_read == 50
