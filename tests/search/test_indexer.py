"""Indexing from real sealed bundles on SeaweedFS: verified only, incremental, refusals reported."""

from __future__ import annotations

from dataclasses import replace
from pathlib import Path
from unittest import mock

import pytest

from archive.clock import FixedClock
from archive.journal.sqlite import SqliteJournal
from archive.keys import Signer, load_or_create_signer
from archive.seal import SealPolicy, seal
from archive.store.s3 import S3ArchiveStore
from search.indexer import update_index
from search.service import search
from search.sqlite_index import SqliteSearchIndex
from tests.factories import slack_message
from tests.search.corpus import LABELS, corpus


@pytest.fixture
def sealed(
    journal: SqliteJournal,
    store: S3ArchiveStore,
    signer: Signer,
    policy: SealPolicy,
    clock: FixedClock,
) -> SealPolicy:
    """The corpus sealed into bundles of 10, 10 and 1 records."""
    policy = replace(policy, max_records=10)
    journal.append([replace(r, seq=None) for r in corpus()])
    assert len(seal(journal, store, signer, policy, clock).bundles) == 3
    return policy


@pytest.fixture
def index(tmp_path: Path) -> SqliteSearchIndex:
    return SqliteSearchIndex(tmp_path / "search.db", "test")


def _keys(signer: Signer) -> dict[str, object]:
    return {signer.public.key_id: signer.public}


def _labels(index: SqliteSearchIndex, query: str) -> list[str]:
    return [LABELS.get(r.hit.seq, str(r.hit.seq)) for r in search(index, query)[1]]


def test_index_holds_every_verified_bundle(
    sealed: SealPolicy, store: S3ArchiveStore, signer: Signer, index: SqliteSearchIndex
) -> None:
    """All three bundles are indexed with their manifest hashes; the corpus is searchable."""
    report = update_index(index, store, sealed.layout, _keys(signer))  # type: ignore[arg-type]
    assert [b.number for b in report.indexed] == [1, 2, 3] and report.records == 21
    assert report.refused == []
    with SqliteJournal(index.path.parent / "journal.db") as journal:
        hashes = [b.manifest_sha256 for b in journal.bundles("test")]
    assert [b.manifest_sha256 for b in index.held()] == hashes
    assert _labels(index, "会议 OR whatsapp") == ["chinese", "whatsapp_deleted", "whatsapp"]


def test_update_reads_only_new_bundles(
    sealed: SealPolicy,
    store: S3ArchiveStore,
    signer: Signer,
    journal: SqliteJournal,
    clock: FixedClock,
    index: SqliteSearchIndex,
) -> None:
    """After a new seal, only the new bundle is read: old records objects are never fetched."""
    keys = _keys(signer)
    update_index(index, store, sealed.layout, keys)  # type: ignore[arg-type]
    journal.append([slack_message(900, text="settlement fails tomorrow")])
    seal(journal, store, signer, sealed, clock)
    old = {sealed.layout.records_key(n) for n in (1, 2, 3)}
    real_get, real_open = store.get, store.open

    def get(key: str, version_id: str | None = None) -> bytes:
        assert key not in old, f"re-read {key}"
        return real_get(key, version_id)

    def open_(key: str, version_id: str | None = None):  # type: ignore[no-untyped-def]
        assert key not in old, f"re-read {key}"
        return real_open(key, version_id)

    with mock.patch.object(store, "get", get), mock.patch.object(store, "open", open_):
        report = update_index(index, store, sealed.layout, keys)  # type: ignore[arg-type]
    assert [b.number for b in report.indexed] == [4]
    assert [b.number for b in index.held()] == [1, 2, 3, 4]
    assert _labels(index, "settlement") == ["22"]
    again = update_index(index, store, sealed.layout, keys)  # type: ignore[arg-type]
    assert again.indexed == [] and again.refused == []


def test_bundle_failing_verification_is_not_indexed_and_is_reported(
    journal: SqliteJournal,
    store: S3ArchiveStore,
    signer: Signer,
    policy: SealPolicy,
    clock: FixedClock,
    index: SqliteSearchIndex,
    tmp_path: Path,
) -> None:
    """A bundle signed by an untrusted key is refused and reported; the others are indexed."""
    policy = replace(policy, max_records=10)
    rogue = load_or_create_signer(tmp_path / "rogue")
    records = [replace(r, seq=None) for r in corpus()]
    for part, key in ((records[:10], signer), (records[10:20], rogue), (records[20:], signer)):
        journal.append(part)
        seal(journal, store, key, policy, clock)
    report = update_index(index, store, policy.layout, _keys(signer))  # type: ignore[arg-type]
    assert [b.number for b in report.indexed] == [1, 3]
    assert [r.number for r in report.refused] == [2]
    assert "key" in report.refused[0].problems
    assert [r.number for r in index.refused()] == [2]
    assert _labels(index, "budgets OR 会议") == []
    assert _labels(index, "budget OR cafe") == ["telegram_photo", "french", "budget_q3"]


def test_refused_bundles_are_retried(
    sealed: SealPolicy,
    store: S3ArchiveStore,
    signer: Signer,
    index: SqliteSearchIndex,
    tmp_path: Path,
) -> None:
    """Bundles refused under the wrong trusted key are indexed once the right key is given."""
    stranger = load_or_create_signer(tmp_path / "stranger")
    refused = update_index(index, store, sealed.layout, _keys(stranger))  # type: ignore[arg-type]
    assert refused.indexed == [] and [r.number for r in refused.refused] == [1, 2, 3]
    assert _labels(index, "budget") == []
    retried = update_index(index, store, sealed.layout, _keys(signer))  # type: ignore[arg-type]
    assert [b.number for b in retried.indexed] == [1, 2, 3]
    assert index.refused() == []
    assert _labels(index, "budget") == ["budget_q3"]


def test_rebuild_indexes_everything_again(
    sealed: SealPolicy, store: S3ArchiveStore, signer: Signer, index: SqliteSearchIndex
) -> None:
    """--rebuild forgets the index and reads every bundle again, with the same results."""
    keys = _keys(signer)
    update_index(index, store, sealed.layout, keys)  # type: ignore[arg-type]
    before = _labels(index, "kind:message")
    report = update_index(index, store, sealed.layout, keys, rebuild=True)  # type: ignore[arg-type]
    assert [b.number for b in report.indexed] == [1, 2, 3]
    assert _labels(index, "kind:message") == before


def test_parallel_workers_index_the_same(
    sealed: SealPolicy, store: S3ArchiveStore, signer: Signer, tmp_path: Path
) -> None:
    """Three worker processes produce the same index as one reader."""
    keys = _keys(signer)
    with (
        SqliteSearchIndex(tmp_path / "serial.db", "test") as serial,
        SqliteSearchIndex(tmp_path / "parallel.db", "test") as parallel,
    ):
        update_index(serial, store, sealed.layout, keys)  # type: ignore[arg-type]
        report = update_index(parallel, store, sealed.layout, keys, workers=3)  # type: ignore[arg-type]
        assert sorted(b.number for b in report.indexed) == [1, 2, 3]
        assert parallel.held() == serial.held()
        for query in ("kind:message", "会议 OR whatsapp", "NEAR(trade confirmed, 6)"):
            assert _labels(parallel, query) == _labels(serial, query)
