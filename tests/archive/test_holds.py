"""Legal hold by matter against the real SeaweedFS: placed, verified, released, enforced."""

from __future__ import annotations

import hashlib
import secrets
import time
from datetime import UTC, datetime, timedelta
from pathlib import Path

import pytest
from click.testing import CliRunner

from archive.clock import FixedClock
from archive.errors import ConfigError, StoreError
from archive.holds import (
    HoldContext,
    Officer,
    create_hold,
    hold_new_bundles,
    load_matters,
    release_hold,
)
from archive.journal.sqlite import SqliteJournal
from archive.keys import Signer
from archive.matters import Scope
from archive.schedule import SealJob
from archive.seal import SealPolicy, SealReport, seal
from archive.store.local_s3 import LocalS3, LocalS3Endpoint
from archive.store.port import Retention
from archive.store.s3 import S3ArchiveStore
from archive.verify import verify_stream
from chatkeeper.cli import cli
from tests.archive.conftest import duty_store
from tests.factories import slack_message, stored_attachment


def _officer(clock: FixedClock) -> Officer:
    return Officer("officer-1", clock.now())


def _sealed_two_channels(
    ctx: HoldContext, store: S3ArchiveStore, policy: SealPolicy, clock: FixedClock
) -> str:
    """Bundle 1: channel C1 with an attachment; bundle 2: channel C2 only. Returns the blob key."""
    data = b"%PDF-1.7 desk blotter"
    att = stored_attachment(data)
    blob_key = policy.layout.blob_key(att.sha256 or "")
    until = clock.now().replace(microsecond=0) + timedelta(hours=1)
    store.put(blob_key, data, sha256_hex=att.sha256 or "", retention=Retention("COMPLIANCE", until))
    ctx.journal.append([slack_message(i, channel="C1") for i in range(49)])
    ctx.journal.append([slack_message(49, channel="C1", attachments=(att,))])
    ctx.journal.append([slack_message(100 + i, channel="C2") for i in range(30)])
    assert [b.number for b in seal(ctx.journal, store, ctx.signer, policy, clock).bundles] == [1, 2]
    return blob_key


def _held(auditor: S3ArchiveStore, key: str) -> bool:
    version = next(v for v in auditor.versions(key) if v.key == key)
    return auditor.legal_hold(key, version.version_id)


def test_hold_is_placed_on_every_covered_object_and_verified(
    hold_ctx: HoldContext,
    store: S3ArchiveStore,
    auditor_store: S3ArchiveStore,
    legal_store: S3ArchiveStore,
    policy: SealPolicy,
    clock: FixedClock,
    signer: Signer,
) -> None:
    """A matter on C1 holds bundle 1's records, manifest and blob, not bundle 2; verify
    checks the holds and reports an object whose hold was removed behind its back."""
    blob_key = _sealed_two_channels(hold_ctx, store, policy, clock)
    matter = create_hold(hold_ctx, "matter-7", Scope(conversations=("C1",)), _officer(clock))
    layout = policy.layout
    assert {k for k, _ in matter.objects} == {
        layout.records_key(1),
        layout.manifest_key(1),
        blob_key,
    }
    for key in (layout.records_key(1), layout.manifest_key(1), blob_key):
        assert _held(auditor_store, key)
    assert not _held(auditor_store, layout.records_key(2))
    keys = {signer.public.key_id: signer.public}
    report = verify_stream(auditor_store, layout, keys, deep=True)
    assert report.ok, report.findings
    assert report.held_objects == 3
    events = [e["payload"]["action"] for e in report.events]
    assert events == ["create", "object_held", "object_held", "object_held"]
    records_version = matter.objects and next(
        v for k, v in matter.objects if k == layout.records_key(1)
    )
    legal_store.set_legal_hold(layout.records_key(1), records_version, False)
    broken = verify_stream(auditor_store, layout, keys, deep=True)
    assert [f.check for f in broken.findings] == ["hold"]
    assert "does not carry the legal hold" in broken.findings[0].message


def test_release_keeps_objects_of_another_open_matter(
    hold_ctx: HoldContext,
    store: S3ArchiveStore,
    auditor_store: S3ArchiveStore,
    policy: SealPolicy,
    clock: FixedClock,
    signer: Signer,
) -> None:
    """Releasing matter A (C1 and C2) turns the hold off on C2's bundle only, because
    matter B (C1) still covers bundle 1 and its blob; releasing B then frees them."""
    blob_key = _sealed_two_channels(hold_ctx, store, policy, clock)
    create_hold(hold_ctx, "matter-a", Scope(conversations=("C1", "C2")), _officer(clock))
    create_hold(hold_ctx, "matter-b", Scope(participants=("U0000049",)), _officer(clock))
    layout = policy.layout
    released, kept = release_hold(hold_ctx, "matter-a", _officer(clock))
    assert (released, kept) == (2, 3)
    assert _held(auditor_store, layout.records_key(1)) and _held(auditor_store, blob_key)
    assert not _held(auditor_store, layout.records_key(2))
    matters = load_matters(auditor_store, layout)
    assert not matters["matter-a"].open and matters["matter-b"].open
    assert verify_stream(auditor_store, layout, {signer.public.key_id: signer.public}).ok
    assert release_hold(hold_ctx, "matter-b", _officer(clock)) == (3, 0)
    assert not _held(auditor_store, layout.manifest_key(1)) and not _held(auditor_store, blob_key)


def test_archiver_cannot_place_a_legal_hold(
    store: S3ArchiveStore, legal_store: S3ArchiveStore, clock: FixedClock
) -> None:
    """The archiver identity is refused PutObjectLegalHold; the legal identity may."""
    until = clock.now().replace(microsecond=0) + timedelta(hours=1)
    version = store.put(
        "x/held",
        b"x",
        sha256_hex=hashlib.sha256(b"x").hexdigest(),
        retention=Retention("COMPLIANCE", until),
    )
    with pytest.raises(StoreError, match="AccessDenied"):
        store.set_legal_hold("x/held", version, True)
    legal_store.set_legal_hold("x/held", version, True)
    assert store.legal_hold("x/held", version)


def test_held_version_cannot_be_deleted_after_retain_until(
    local_s3: LocalS3, s3_endpoint: LocalS3Endpoint
) -> None:
    """GOVERNANCE with a 2-second retain-until (test only): once it passed, the disposition
    identity still cannot delete a held version; after release it can, the archiver never."""
    bucket = f"gov-{secrets.token_hex(6)}"
    local_s3.ensure_bucket(bucket, mode="GOVERNANCE", days=1)
    archiver = duty_store(s3_endpoint, bucket, "archiver")
    legal = duty_store(s3_endpoint, bucket, "legal")
    disposer = duty_store(s3_endpoint, bucket, "disposition")
    until = datetime.now(UTC).replace(microsecond=0) + timedelta(seconds=2)
    digest = hashlib.sha256(b"held").hexdigest()
    version = archiver.put(
        "k/held", b"held", sha256_hex=digest, retention=Retention("GOVERNANCE", until)
    )
    other = archiver.put(
        "k/plain", b"held", sha256_hex=digest, retention=Retention("GOVERNANCE", until)
    )
    legal.set_legal_hold("k/held", version, True)
    while datetime.now(UTC) <= until + timedelta(seconds=1):
        time.sleep(0.25)
    with pytest.raises(StoreError, match="AccessDenied"):
        disposer.delete_version("k/held", version)
    with pytest.raises(StoreError, match="AccessDenied"):
        archiver.delete_version("k/plain", other)
    legal.set_legal_hold("k/held", version, False)
    disposer.delete_version("k/held", version)
    assert not [v for v in archiver.versions("k/held") if v.key == "k/held"]


def test_hold_cli_and_seal_time_hold(
    tmp_path: Path, s3_endpoint: LocalS3Endpoint, bucket: str, auditor_store: S3ArchiveStore
) -> None:
    """hold create/list/show/release through the CLI; a bundle sealed later with an in-scope
    record gets the hold at seal time, and every hold operation names the officer."""
    env = {
        "CHATKEEPER_HOME": str(tmp_path / "home"),
        "CHATKEEPER_S3_ENDPOINT": s3_endpoint.url,
        "CHATKEEPER_S3_BUCKET": bucket,
        "CHATKEEPER_S3_ACCESS_KEY": s3_endpoint.archiver.access_key,
        "CHATKEEPER_S3_SECRET_KEY": s3_endpoint.archiver.secret_key,
        "CHATKEEPER_S3_LEGAL_ACCESS_KEY": s3_endpoint.legal.access_key,
        "CHATKEEPER_S3_LEGAL_SECRET_KEY": s3_endpoint.legal.secret_key,
        "CHATKEEPER_ARCHIVE_RETENTION_DAYS": "1",
        "CHATKEEPER_ARCHIVE_MIN_RETENTION_DAYS": "1",
    }
    runner = CliRunner()
    journal_path = Path(env["CHATKEEPER_HOME"]) / "journal.db"
    with SqliteJournal(journal_path) as journal:
        journal.append([slack_message(i, channel="C1") for i in range(5)])
    assert runner.invoke(cli, ["seal"], env=env).exit_code == 0
    created = runner.invoke(
        cli,
        [
            "hold",
            "create",
            "matter-9",
            "--platform",
            "slack",
            "--participant",
            "U0000042",
            "--officer",
            "officer-2",
        ],
        env=env,
    )
    assert created.exit_code == 0, created.output
    assert "0 objects under legal hold" in created.output
    with SqliteJournal(journal_path) as journal:
        journal.append([slack_message(42, channel="C7")])
    sealed = runner.invoke(cli, ["seal"], env=env)
    assert sealed.exit_code == 0, sealed.output
    assert "placed the legal hold of open matters on 2 new objects" in sealed.output
    shown = runner.invoke(cli, ["hold", "show", "matter-9"], env=env)
    assert shown.exit_code == 0 and '"created_by": "officer-2"' in shown.output
    layout_key = f"streams/main/bundles/{3:010d}/records.jsonl.zst"  # 2 holds the create
    assert _held(auditor_store, layout_key)
    listed = runner.invoke(cli, ["hold", "list"], env=env)
    assert "matter-9\topen\t2 objects" in listed.output
    released = runner.invoke(
        cli, ["hold", "release", "matter-9", "--officer", "officer-2"], env=env
    )
    assert released.exit_code == 0 and "removed from 2 objects" in released.output
    assert not _held(auditor_store, layout_key)
    no_legal = {k: v for k, v in env.items() if "LEGAL" not in k}
    refused = runner.invoke(cli, ["hold", "create", "m2", "--conversation", "C1"], env=no_legal)
    assert refused.exit_code == 2 and "s3.legal_access_key" in refused.output


def test_scheduled_sealing_places_open_matters_holds(
    hold_ctx: HoldContext,
    store: S3ArchiveStore,
    auditor_store: S3ArchiveStore,
    policy: SealPolicy,
    clock: FixedClock,
) -> None:
    """The SealJob's after_seal steps (serve wires the holds one) run in order after a seal
    that sealed bundles: the hold step holds a new in-scope bundle, the next step sees it."""
    create_hold(hold_ctx, "matter-s", Scope(conversations=("C9",)), _officer(clock))
    hold_ctx.journal.append([slack_message(1, channel="C9")])
    seen: list[tuple[int, bool]] = []

    def hold_step(report: SealReport) -> None:
        hold_new_bundles(hold_ctx, report.bundles, _officer(clock))

    def next_step(report: SealReport) -> None:
        key = policy.layout.records_key(report.bundles[0].number)
        seen.append((report.bundles[0].number, _held(auditor_store, key)))

    job = SealJob(
        hold_ctx.journal, store, hold_ctx.signer, policy, clock, after_seal=[hold_step, next_step]
    )
    report = job()
    assert report is not None and [b.number for b in report.bundles] == [2]
    assert seen == [(2, True)]
    assert job() is not None and seen == [(2, True)]  # nothing sealed: no step runs
    assert _held(auditor_store, policy.layout.records_key(2))
    assert _held(auditor_store, policy.layout.manifest_key(2))


def test_create_again_holds_only_what_is_missing(
    hold_ctx: HoldContext,
    store: S3ArchiveStore,
    auditor_store: S3ArchiveStore,
    policy: SealPolicy,
    clock: FixedClock,
) -> None:
    """A bundle sealed without its seal-time hold is held by repeating hold create with the
    same scope; another scope for an open matter is refused."""
    create_hold(hold_ctx, "matter-r", Scope(conversations=("C3",)), _officer(clock))
    hold_ctx.journal.append([slack_message(1, channel="C3")])
    seal(hold_ctx.journal, store, hold_ctx.signer, policy, clock)  # no seal-time hold step
    assert not _held(auditor_store, policy.layout.records_key(2))
    again = create_hold(hold_ctx, "matter-r", Scope(conversations=("C3",)), _officer(clock))
    assert _held(auditor_store, policy.layout.records_key(2))
    assert len(again.objects) == 2
    with pytest.raises(ConfigError, match="another scope"):
        create_hold(hold_ctx, "matter-r", Scope(conversations=("C4",)), _officer(clock))
