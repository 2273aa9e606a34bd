"""Sealing against the real SeaweedFS: format, idempotence, resume, fail closed."""

from __future__ import annotations

import hashlib
from dataclasses import replace
from datetime import timedelta

import pytest

from archive.bundle import iter_lines, parse_manifest
from archive.clock import FixedClock
from archive.codec import decode_line
from archive.errors import ObjectLockError, SealError, StoreError, StoreUnavailableError
from archive.journal import BundleRow, BundleState
from archive.journal.sqlite import SqliteJournal
from archive.keys import Signer
from archive.seal import SealPolicy, seal
from archive.store.local_s3 import LocalS3, LocalS3Endpoint
from archive.store.port import Retention
from archive.store.s3 import S3ArchiveStore, make_client
from archive.verify import verify_stream
from tests.archive.faults import CountingBundleJournal, FaultyBundleJournal, FaultyStore
from tests.factories import slack_message, stored_attachment


def test_seal_writes_numbered_chained_bundles(
    journal: SqliteJournal,
    store: S3ArchiveStore,
    signer: Signer,
    policy: SealPolicy,
    clock: FixedClock,
) -> None:
    """120 records with a 50-record limit become bundles 1..3, chained, every record once."""
    records = [slack_message(i) for i in range(120)]
    journal.append(records)
    report = seal(journal, store, signer, policy, clock)
    assert [b.number for b in report.bundles] == [1, 2, 3]
    assert [b.record_count for b in report.bundles] == [50, 50, 20]
    assert journal.stats("test").unsealed == 0
    previous = None
    keys = []
    for row in report.bundles:
        data = store.get(policy.layout.manifest_key(row.number), row.manifest_version or "")
        doc = parse_manifest(data)
        assert doc["previous_manifest_sha256"] == previous
        assert doc["retention"]["mode"] == "COMPLIANCE"
        previous = hashlib.sha256(data).hexdigest()
        body = store.open(doc["records"]["key"], doc["records"]["version_id"])
        keys += [decode_line(line).key for line in iter_lines(body)]
    assert keys == [r.key for r in records]
    assert seal(journal, store, signer, policy, clock).bundles == ()


def test_sealed_version_cannot_be_deleted(
    journal: SqliteJournal,
    store: S3ArchiveStore,
    signer: Signer,
    policy: SealPolicy,
    clock: FixedClock,
) -> None:
    """Object Lock COMPLIANCE refuses to delete a sealed version, and it stays readable."""
    journal.append([slack_message(1)])
    (row,) = seal(journal, store, signer, policy, clock).bundles
    key = policy.layout.manifest_key(1)
    with pytest.raises(StoreError, match="AccessDenied"):
        store.delete_version(key, row.manifest_version or "")
    assert (
        hashlib.sha256(store.get(key, row.manifest_version or "")).hexdigest()
        == row.manifest_sha256
    )
    retention = store.retention(key, row.manifest_version or "")
    assert retention is not None and retention.mode == "COMPLIANCE"


def test_refuses_bucket_without_object_lock(
    local_s3: LocalS3,
    s3_endpoint: LocalS3Endpoint,
    journal: SqliteJournal,
    signer: Signer,
    policy: SealPolicy,
    clock: FixedClock,
) -> None:
    """Sealing into a bucket without Object Lock fails closed and keeps the records."""
    local_s3.create_plain_bucket("plain-no-lock")
    creds = s3_endpoint.archiver
    plain = S3ArchiveStore(
        make_client(s3_endpoint.url, creds.access_key, creds.secret_key), "plain-no-lock"
    )
    journal.append([slack_message(1)])
    with pytest.raises(ObjectLockError, match="Object Lock"):
        seal(journal, plain, signer, policy, clock)
    assert journal.stats("test").unsealed == 1


def test_refuses_retention_below_minimum(
    journal: SqliteJournal,
    store: S3ArchiveStore,
    signer: Signer,
    clock: FixedClock,
    policy: SealPolicy,
) -> None:
    """A configured retention shorter than the minimum is refused before anything is written."""
    short = replace(policy, retention_days=1, min_retention_days=7)
    journal.append([slack_message(1)])
    with pytest.raises(ObjectLockError, match="below the minimum"):
        seal(journal, store, signer, short, clock)
    assert list(store.versions("")) == []


def test_unreachable_store_keeps_records() -> None:
    """With S3 unreachable, sealing fails with StoreUnavailableError after retries."""
    client = make_client("http://127.0.0.1:9", "a", "b", connect_timeout=0.2, max_attempts=2)
    with pytest.raises(StoreUnavailableError):
        S3ArchiveStore(client, "x").lock_info()


def test_each_bundle_is_read_from_the_journal_once(
    journal: SqliteJournal,
    store: S3ArchiveStore,
    signer: Signer,
    policy: SealPolicy,
    clock: FixedClock,
) -> None:
    """Sealing reads each bundle's rows once: the records object is built once and uploaded."""
    journal.append([slack_message(i) for i in range(120)])
    counting = CountingBundleJournal(journal)
    report = seal(counting, store, signer, policy, clock)
    assert sorted(counting.source.reads) == [(b.seq_first, b.seq_last) for b in report.bundles]


def test_worker_processes_seal_the_same_chain(
    journal: SqliteJournal,
    store: S3ArchiveStore,
    signer: Signer,
    policy: SealPolicy,
    clock: FixedClock,
) -> None:
    """Records objects built in worker processes seal a verifiable chain holding every record."""
    records = [slack_message(i) for i in range(170)]
    journal.append(records)
    report = seal(journal, store, signer, replace(policy, build_workers=2), clock)
    assert [b.record_count for b in report.bundles] == [50, 50, 50, 20]
    keys = {signer.public.key_id: signer.public}
    verified = verify_stream(store, policy.layout, keys)
    assert verified.ok, verified.findings
    assert verified.records == 170
    sealed = []
    for row in report.bundles:
        body = store.open(policy.layout.records_key(row.number), row.records_version or "")
        sealed += [decode_line(line).key for line in iter_lines(body)]
    assert sealed == [r.key for r in records]


@pytest.mark.parametrize("workers", [1, 2])
@pytest.mark.parametrize(
    "crash_at", ["records_put", "after_records", "manifest_put", "after_manifest"]
)
def test_resume_after_crash(
    crash_at: str,
    workers: int,
    journal: SqliteJournal,
    store: S3ArchiveStore,
    signer: Signer,
    policy: SealPolicy,
    clock: FixedClock,
) -> None:
    """A crash at any step is finished by the next run: no record lost or sealed twice."""
    policy = replace(policy, build_workers=workers)
    records = [slack_message(i) for i in range(60)]
    journal.append(records)

    class Crash(Exception):
        pass

    def put(key: str) -> None:
        if crash_at == "records_put" and key.endswith("records.jsonl.zst"):
            raise Crash
        if crash_at == "manifest_put" and key.endswith("manifest.json"):
            raise Crash

    def update(row: BundleRow) -> None:
        if crash_at == "after_records" and row.state is BundleState.RECORDS_STORED:
            raise Crash
        if crash_at == "after_manifest" and row.state is BundleState.SEALED:
            raise Crash

    with pytest.raises(Crash):
        seal(FaultyBundleJournal(journal, update), FaultyStore(store, put), signer, policy, clock)
    report = seal(journal, store, signer, policy, clock)
    assert [b.number for b in journal.bundles("test")] == [1, 2]
    assert all(b.state is BundleState.SEALED for b in journal.bundles("test"))
    assert sum(b.record_count for b in journal.bundles("test")) == 60
    assert report.records >= 10
    for name in ("records.jsonl.zst", "manifest.json"):
        key = policy.layout.bundle_dir(1) + name
        assert len([v for v in store.versions(key) if v.key == key]) == 1


def test_refuses_to_fork_an_existing_stream(
    tmp_path: object,
    journal: SqliteJournal,
    store: S3ArchiveStore,
    signer: Signer,
    policy: SealPolicy,
    clock: FixedClock,
) -> None:
    """A fresh journal does not seal into a stream another journal already sealed."""
    from pathlib import Path

    journal.append([slack_message(1)])
    seal(journal, store, signer, policy, clock)
    with SqliteJournal(Path(str(tmp_path)) / "other.db") as other:
        other.append([slack_message(2)])
        with pytest.raises(SealError, match="fork"):
            seal(other, store, signer, policy, clock)


def test_blob_references_are_locked_and_listed(
    journal: SqliteJournal,
    store: S3ArchiveStore,
    signer: Signer,
    policy: SealPolicy,
    clock: FixedClock,
) -> None:
    """A bundle lists the blobs its records reference, locked at least as long as it."""
    data = b"%PDF-1.7 term sheet"
    att = stored_attachment(data)
    key = policy.layout.blob_key(att.sha256 or "")
    short = Retention("COMPLIANCE", clock.now().replace(microsecond=0) + timedelta(hours=1))
    version = store.put(key, data, sha256_hex=att.sha256 or "", retention=short)
    journal.append([slack_message(1, attachments=(att,))])
    (row,) = seal(journal, store, signer, policy, clock).bundles
    doc = parse_manifest(store.get(policy.layout.manifest_key(1), row.manifest_version or ""))
    assert doc["blobs"] == [{"sha256": att.sha256, "key": key}]
    locked = store.retention(key, version)
    assert locked is not None and locked.retain_until >= row.retain_until


def test_missing_blob_is_refused(
    journal: SqliteJournal,
    store: S3ArchiveStore,
    signer: Signer,
    policy: SealPolicy,
    clock: FixedClock,
) -> None:
    """A record that references a blob absent from the store cannot be sealed."""
    journal.append([slack_message(1, attachments=(stored_attachment(b"never uploaded"),))])
    with pytest.raises(SealError, match="not in the store"):
        seal(journal, store, signer, policy, clock)
