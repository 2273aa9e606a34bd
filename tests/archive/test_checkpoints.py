"""Checkpoints: sealed after bundles and every interval when idle; verify finds a removed tail.

The tail is removed the way an insider with GOVERNANCE bypass would: the admin
identity deletes locked versions in a GOVERNANCE-mode bucket.
"""

from __future__ import annotations

import json
import secrets
from dataclasses import replace
from datetime import timedelta
from typing import Any

import pytest

from archive.bundle import parse_manifest
from archive.checkpoint import FORMAT
from archive.clock import FixedClock
from archive.journal.sqlite import SqliteJournal
from archive.keys import Signer, load_or_create_signer
from archive.schedule import SealJob
from archive.seal import SealPolicy, seal
from archive.store.local_s3 import LocalS3, LocalS3Endpoint
from archive.store.s3 import S3ArchiveStore, make_client
from archive.verify import verify_stream
from tests.archive.test_verify import _other_store, copy_stream
from tests.factories import slack_message

HOUR = timedelta(hours=1)


@pytest.fixture
def governance(local_s3: LocalS3, s3_endpoint: LocalS3Endpoint) -> tuple[S3ArchiveStore, Any]:
    """A GOVERNANCE-mode bucket: (the archiver's store, an admin client that can bypass)."""
    name = f"gov-{secrets.token_hex(6)}"
    local_s3.ensure_bucket(name, mode="GOVERNANCE", days=1)
    archiver, admin = s3_endpoint.archiver, s3_endpoint.admin
    store = S3ArchiveStore(
        make_client(s3_endpoint.url, archiver.access_key, archiver.secret_key), name
    )
    return store, make_client(s3_endpoint.url, admin.access_key, admin.secret_key)


def _remove(store: S3ArchiveStore, admin: Any, prefix: str) -> None:
    """Delete every version under ``prefix`` for good, bypassing GOVERNANCE retention."""
    for version in list(store.versions(prefix)):
        admin.delete_object(
            Bucket=store.bucket,
            Key=version.key,
            VersionId=version.version_id,
            BypassGovernanceRetention=True,
        )


def _verify(store: S3ArchiveStore, signer: Signer, policy: SealPolicy, clock: FixedClock) -> Any:
    return verify_stream(
        store,
        policy.layout,
        {signer.public.key_id: signer.public},
        max_age=2 * HOUR,
        now=clock.now(),
    )


def _messages(first: int, count: int) -> list[Any]:
    return [slack_message(i) for i in range(first, first + count)]


def test_checkpoint_is_signed_chained_and_names_the_last_bundle(
    journal: SqliteJournal,
    store: S3ArchiveStore,
    signer: Signer,
    policy: SealPolicy,
    clock: FixedClock,
) -> None:
    """Sealing writes a checkpoint naming the last bundle's manifest hash, chained to the last one."""
    journal.append(_messages(0, 60))
    seal(journal, store, signer, policy, clock)
    journal.append(_messages(100, 5))
    clock.advance(timedelta(minutes=5))
    seal(journal, store, signer, policy, clock)
    docs = []
    for n in (1, 2):
        key = policy.layout.checkpoint_key(n)
        (version,) = list(store.versions(key))
        docs.append(json.loads(store.get(key, version.version_id)))
        retention = store.retention(key, version.version_id)
        assert retention is not None and retention.mode == "COMPLIANCE"
    manifest3 = store.get(
        policy.layout.manifest_key(3),
        next(iter(store.versions(policy.layout.manifest_key(3)))).version_id,
    )
    import hashlib

    assert docs[0]["format"] == FORMAT and docs[0]["last_bundle"] == 2
    assert docs[0]["previous_checkpoint_sha256"] is None
    assert docs[1]["last_bundle"] == 3
    assert docs[1]["last_manifest_sha256"] == hashlib.sha256(manifest3).hexdigest()
    assert docs[1]["signature"]["key_id"] == signer.public.key_id
    assert parse_manifest(manifest3)["bundle"] == 3
    assert _verify(store, signer, policy, clock).findings == []


def test_idle_stream_with_fresh_checkpoints_is_intact(
    journal: SqliteJournal,
    store: S3ArchiveStore,
    signer: Signer,
    policy: SealPolicy,
    clock: FixedClock,
) -> None:
    """With nothing to seal the job still seals a checkpoint each interval, so an idle stream verifies."""
    journal.append(_messages(0, 10))
    job = SealJob(journal, store, signer, policy, clock)
    job()
    clock.advance(timedelta(minutes=10))
    job()  # not due yet: no new checkpoint
    assert _verify(store, signer, policy, clock).checkpoints == 1
    for _ in range(5):
        clock.advance(HOUR)
        job()
    report = _verify(store, signer, policy, clock)
    assert report.findings == [] and report.checkpoints == 6 and report.last_bundle == 1
    assert report.newest_checkpoint is not None and report.newest_checkpoint["last_bundle"] == 1


def test_stream_without_new_checkpoints_is_possibly_truncated(
    journal: SqliteJournal,
    store: S3ArchiveStore,
    signer: Signer,
    policy: SealPolicy,
    clock: FixedClock,
) -> None:
    """A newest checkpoint older than max_age is reported as possible truncation."""
    journal.append(_messages(0, 10))
    seal(journal, store, signer, policy, clock)
    clock.advance(3 * HOUR)
    findings = [f.message for f in _verify(store, signer, policy, clock).findings]
    assert len(findings) == 1 and "may have been truncated" in findings[0], findings
    assert "3.0 h old, more than the maximum age 2.0 h" in findings[0]


def test_removed_last_bundle_is_detected_from_the_bucket_alone(
    governance: tuple[S3ArchiveStore, Any],
    journal: SqliteJournal,
    signer: Signer,
    policy: SealPolicy,
    clock: FixedClock,
) -> None:
    """Deleting the last bundle (GOVERNANCE bypass) is caught by the checkpoint that names it."""
    store, admin = governance
    policy = replace(policy, retention_mode="GOVERNANCE")
    journal.append(_messages(0, 120))
    seal(journal, store, signer, policy, clock)
    assert _verify(store, signer, policy, clock).findings == []
    _remove(store, admin, policy.layout.bundle_dir(3))
    report = _verify(store, signer, policy, clock)
    messages = [f.message for f in report.findings]
    assert report.last_bundle == 2
    assert any("names bundle 3 but the store's last bundle is 2" in m for m in messages), messages


def test_removed_tail_with_its_checkpoints_shows_as_stale(
    governance: tuple[S3ArchiveStore, Any],
    journal: SqliteJournal,
    signer: Signer,
    policy: SealPolicy,
    clock: FixedClock,
) -> None:
    """Removing the last bundle and every checkpoint after it leaves a checkpoint too old to be idle."""
    store, admin = governance
    policy = replace(policy, retention_mode="GOVERNANCE")
    job = SealJob(journal, store, signer, policy, clock)
    journal.append(_messages(0, 60))
    job()  # bundles 1, 2; checkpoint 1
    clock.advance(30 * timedelta(minutes=1))
    journal.append(_messages(100, 5))
    job()  # bundle 3; checkpoint 2
    for _ in range(3):
        clock.advance(HOUR)
        job()  # idle checkpoints 3, 4, 5
    assert _verify(store, signer, policy, clock).findings == []
    _remove(store, admin, policy.layout.bundle_dir(3))
    for n in range(2, 6):
        _remove(store, admin, policy.layout.checkpoint_key(n))
    messages = [f.message for f in _verify(store, signer, policy, clock).findings]
    assert len(messages) == 1 and "may have been truncated" in messages[0], messages


def test_checkpoint_forged_with_another_key_is_reported(
    journal: SqliteJournal,
    store: S3ArchiveStore,
    signer: Signer,
    policy: SealPolicy,
    clock: FixedClock,
    local_s3: object,
    tmp_path: Any,
) -> None:
    """A fresh checkpoint signed by a key outside the chain does not hide staleness."""
    from archive.checkpoint import write_checkpoint
    from archive.store.port import Retention

    journal.append(_messages(0, 10))
    seal(journal, store, signer, policy, clock)
    copy = _other_store(store, local_s3)
    copy_stream(store, copy, lambda k, d: d, clock)
    clock.advance(3 * HOUR)
    forger = load_or_create_signer(tmp_path / "forger")
    write_checkpoint(
        copy,
        policy.layout,
        forger,
        now=clock.now(),
        last_bundle=1,
        last_manifest_sha256=None,
        retention=Retention("COMPLIANCE", clock.now().replace(microsecond=0) + HOUR),
    )
    messages = [f.message for f in _verify(copy, signer, policy, clock).findings]
    assert any(
        f"checkpoint 2 signed by untrusted key {forger.public.key_id!r}" in m for m in messages
    )
    assert any("checkpoint 2 bundle 1's manifest is not the one" in m for m in messages)


def test_stream_without_any_checkpoint_is_not_intact(
    journal: SqliteJournal,
    store: S3ArchiveStore,
    signer: Signer,
    policy: SealPolicy,
    clock: FixedClock,
    local_s3: object,
) -> None:
    """A stream whose checkpoints are all gone cannot be called intact."""
    journal.append(_messages(0, 10))
    seal(journal, store, signer, policy, clock)
    copy = _other_store(store, local_s3)
    copy_stream(store, copy, lambda k, d: None if "/checkpoints/" in k else d, clock)
    messages = [f.message for f in _verify(copy, signer, policy, clock).findings]
    assert any("has no checkpoint" in m for m in messages), messages
