"""verify_stream: unreadable objects are findings; trust follows key rotations from the pin."""

from __future__ import annotations

from pathlib import Path
from typing import Any
from unittest import mock

import pytest
from botocore.exceptions import ClientError

from archive.clock import FixedClock
from archive.errors import StoreUnavailableError
from archive.journal.sqlite import SqliteJournal
from archive.keys import Signer, load_or_create_signer, local_public_keys
from archive.rotation import check_rotation, rotate_key, rotation_payload
from archive.schedule import SealJob
from archive.seal import SealPolicy, seal
from archive.store.s3 import S3ArchiveStore
from archive.verify import verify_stream
from tests.archive.test_verify import _other_store, copy_stream
from tests.factories import slack_message


def _messages(first: int, count: int) -> list[Any]:
    return [slack_message(i) for i in range(first, first + count)]


def _findings(report: Any) -> list[str]:
    return [f"{f.bundle}:{f.check}:{f.message}" for f in report.findings]


def _fail_get(store: S3ArchiveStore, key: str, code: str = "InternalError") -> Any:
    """Make the S3 client answer ``code`` for GetObject of ``key`` (a corrupt object on disk)."""
    real = store.client.get_object

    def get_object(**kw: Any) -> Any:
        if kw["Key"] == key:
            raise ClientError({"Error": {"Code": code, "Message": "corrupt"}}, "GetObject")
        return real(**kw)

    return mock.patch.object(store.client, "get_object", get_object)


def test_corrupt_object_is_a_finding_and_the_rest_is_checked(
    journal: SqliteJournal,
    store: S3ArchiveStore,
    signer: Signer,
    policy: SealPolicy,
    clock: FixedClock,
) -> None:
    """A records object the store fails to read (InternalError) fails its bundle only."""
    journal.append(_messages(0, 120))
    seal(journal, store, signer, policy, clock)
    keys = {signer.public.key_id: signer.public}
    with _fail_get(store, policy.layout.records_key(2)):
        report = verify_stream(store, policy.layout, keys)
    findings = _findings(report)
    assert len(findings) == 1 and findings[0].startswith("2:read:records object: the store failed")
    assert "InternalError" in findings[0]
    assert report.bundles == 3 and report.records == 120


def test_unreadable_manifest_is_a_finding(
    journal: SqliteJournal,
    store: S3ArchiveStore,
    signer: Signer,
    policy: SealPolicy,
    clock: FixedClock,
) -> None:
    """A manifest the store refuses to serve fails that bundle; later bundles are still read."""
    journal.append(_messages(0, 120))
    seal(journal, store, signer, policy, clock)
    with _fail_get(store, policy.layout.manifest_key(1)):
        report = verify_stream(store, policy.layout, {signer.public.key_id: signer.public})
    findings = _findings(report)
    assert findings[0].startswith("1:read:manifest: the store failed")
    assert any(f.startswith("2:manifest:chain broken") for f in findings)
    assert not any(f.startswith("3:") for f in findings)


def test_one_object_timing_out_on_a_live_store_is_a_finding(
    journal: SqliteJournal,
    store: S3ArchiveStore,
    signer: Signer,
    policy: SealPolicy,
    clock: FixedClock,
) -> None:
    """An unavailable error on one object while the store still answers is that bundle's finding."""
    journal.append(_messages(0, 60))
    seal(journal, store, signer, policy, clock)
    real_open = store.open

    def open_(key: str, version: str) -> Any:
        if key == policy.layout.records_key(1):
            raise StoreUnavailableError("S3 unavailable during GetObject: read timeout")
        return real_open(key, version)

    with mock.patch.object(store, "open", open_):
        report = verify_stream(store, policy.layout, {signer.public.key_id: signer.public})
    assert [f.check for f in report.findings] == ["read"] and report.findings[0].bundle == 1


def test_store_down_as_a_whole_still_raises(
    journal: SqliteJournal,
    store: S3ArchiveStore,
    signer: Signer,
    policy: SealPolicy,
    clock: FixedClock,
) -> None:
    """When the store stops answering altogether, verify raises StoreUnavailableError (exit 4)."""
    journal.append(_messages(0, 10))
    seal(journal, store, signer, policy, clock)
    down = StoreUnavailableError("S3 unavailable: connection refused")
    with (
        mock.patch.object(store, "open", side_effect=down),
        mock.patch.object(store, "lock_info", side_effect=down),
        pytest.raises(StoreUnavailableError),
    ):
        verify_stream(store, policy.layout, {signer.public.key_id: signer.public})


def _rotated(
    journal: SqliteJournal,
    store: S3ArchiveStore,
    policy: SealPolicy,
    clock: FixedClock,
    key_dir: Path,
) -> tuple[Signer, Signer]:
    """Bundles 1-2 under the first key, a rotation, then bundles under the new key."""
    first = load_or_create_signer(key_dir)
    journal.append(_messages(0, 60))
    seal(journal, store, first, policy, clock)
    rotate_key(journal, store, key_dir, policy, clock, holder="test")
    second = load_or_create_signer(key_dir)
    journal.append(_messages(100, 30))
    seal(journal, store, second, policy, clock)
    return first, second


def test_rotation_is_followed_from_the_first_key(
    journal: SqliteJournal,
    store: S3ArchiveStore,
    policy: SealPolicy,
    clock: FixedClock,
    tmp_path: Path,
) -> None:
    """Pinning only the first key, the stream verifies across a rotation and trusts both keys."""
    first, second = _rotated(journal, store, policy, clock, tmp_path / "keys")
    assert first.public.key_id != second.public.key_id
    report = verify_stream(store, policy.layout, {first.public.key_id: first.public})
    assert report.findings == []
    assert set(report.keys) == {first.public.key_id, second.public.key_id}
    assert report.rotations == [
        {"bundle": 3, "old": first.public.key_id, "new": second.public.key_id}
    ]
    assert report.last_bundle == 4
    # The deployment keeps both public halves, so its own pin covers the whole stream,
    # and the old private key is gone.
    assert set(local_public_keys(tmp_path / "keys")) == set(report.keys)
    assert sorted(p.name for p in (tmp_path / "keys").glob("*.pem")) == ["signing-ed25519.pem"]


def test_rotation_in_a_tampered_bundle_is_not_followed(
    journal: SqliteJournal,
    store: S3ArchiveStore,
    policy: SealPolicy,
    clock: FixedClock,
    tmp_path: Path,
    local_s3: object,
) -> None:
    """If the bundle holding the key_rotated record fails, the new key is not trusted."""
    first, second = _rotated(journal, store, policy, clock, tmp_path / "keys")
    copy = _other_store(store, local_s3)
    rotation_records = policy.layout.records_key(3)
    copy_stream(
        store,
        copy,
        lambda k, d: d[:40] + bytes([d[40] ^ 1]) + d[41:] if k == rotation_records else d,
        clock,
    )
    report = verify_stream(copy, policy.layout, {first.public.key_id: first.public})
    findings = _findings(report)
    assert any(f.startswith("3:keys:key rotation not followed") for f in findings), findings
    assert any(
        f.startswith(f"4:manifest:signed by untrusted key {second.public.key_id!r}")
        for f in findings
    ), findings
    assert set(report.keys) == {first.public.key_id}


def test_old_key_cannot_sign_after_its_rotation(
    journal: SqliteJournal,
    store: S3ArchiveStore,
    policy: SealPolicy,
    clock: FixedClock,
    tmp_path: Path,
) -> None:
    """A bundle signed by the rotated-out key (a stale server) is reported."""
    first, _ = _rotated(journal, store, policy, clock, tmp_path / "keys")
    journal.append(_messages(200, 5))
    seal(journal, store, first, policy, clock)
    report = verify_stream(store, policy.layout, {first.public.key_id: first.public})
    assert _findings(report)[0] == (
        f"5:manifest:signed by key {first.public.key_id}, which bundle 3 rotated out"
    )


def test_seal_job_picks_up_a_rotated_key(
    journal: SqliteJournal,
    store: S3ArchiveStore,
    policy: SealPolicy,
    clock: FixedClock,
    tmp_path: Path,
) -> None:
    """A running SealJob with load_signer signs with the new key after a rotation beside it."""
    key_dir = tmp_path / "keys"
    first = load_or_create_signer(key_dir)
    job = SealJob(
        journal, store, first, policy, clock, load_signer=lambda: load_or_create_signer(key_dir)
    )
    journal.append(_messages(0, 10))
    job()
    rotate_key(journal, store, key_dir, policy, clock, holder="rotate")
    journal.append(_messages(50, 10))
    job()
    report = verify_stream(store, policy.layout, {first.public.key_id: first.public})
    assert report.findings == [] and len(report.keys) == 2


def test_rotation_signed_by_another_key_is_refused(tmp_path: Path) -> None:
    """A rotation entry whose signature is not by the bundle's trusted signer is refused."""
    old = load_or_create_signer(tmp_path / "old")
    forger = load_or_create_signer(tmp_path / "forger")
    new = load_or_create_signer(tmp_path / "new").public
    trusted = {old.public.key_id: old.public}
    good = rotation_payload(old, new)
    assert check_rotation(good, trusted, old.public.key_id) == (new, None)
    forged = {**rotation_payload(forger, new), "old_key_id": old.public.key_id}
    key, problem = check_rotation(forged, trusted, old.public.key_id)
    assert key is None and problem and "does not verify" in problem
    key, problem = check_rotation(rotation_payload(forger, new), trusted, old.public.key_id)
    assert key is None and problem and "not by the trusted key" in problem
