"""Defensible disposition against the real SeaweedFS (GOVERNANCE, seconds-long retention).

The tests' buckets are GOVERNANCE with a 2-second retention class, a test-only setting:
COMPLIANCE and the configuration both need whole days, and S3 enforces real time, so the
tests wait the two seconds out instead of moving a clock.
"""

from __future__ import annotations

import secrets
import time
from dataclasses import replace
from datetime import UTC, datetime, timedelta
from pathlib import Path

import pytest
from click.testing import CliRunner

from archive.bundle import Layout
from archive.clock import SystemClock
from archive.disposition import dispose, plan_disposition
from archive.holds import HoldContext, Officer, create_hold
from archive.journal.sqlite import SqliteJournal
from archive.keys import Signer, load_or_create_signer
from archive.matters import Scope
from archive.retention_class import RetentionRule
from archive.seal import SealPolicy, seal
from archive.store.local_s3 import LocalS3, LocalS3Endpoint
from archive.store.port import Retention
from archive.store.s3 import S3ArchiveStore
from archive.verify import verify_stream
from chatkeeper.cli import cli
from tests.archive.conftest import duty_store
from tests.factories import slack_message, stored_attachment

SHORT = RetentionRule(("slack",), timedelta(seconds=2), "slack=2s")


@pytest.fixture
def gov_bucket(local_s3: LocalS3) -> str:
    """A GOVERNANCE bucket (1-day default) for disposition tests."""
    name = f"gov-{secrets.token_hex(6)}"
    local_s3.ensure_bucket(name, mode="GOVERNANCE", days=1)
    return name


@pytest.fixture
def stores(s3_endpoint: LocalS3Endpoint, gov_bucket: str) -> dict[str, S3ArchiveStore]:
    return {
        r: duty_store(s3_endpoint, gov_bucket, r)
        for r in ("archiver", "auditor", "legal", "disposition")
    }


@pytest.fixture
def gov_policy() -> SealPolicy:
    return SealPolicy(
        layout=Layout(stream="test"),
        retention_mode="GOVERNANCE",
        retention_days=1,
        min_retention_days=0,
        max_records=50,
        retention_rules=(SHORT,),
    )


def _wait_past(moment: datetime) -> None:
    while datetime.now(UTC) <= moment + timedelta(seconds=1):
        time.sleep(0.2)


def test_dispose_deletes_expired_unheld_and_verify_says_disposed(
    journal: SqliteJournal,
    stores: dict[str, S3ArchiveStore],
    signer: Signer,
    gov_policy: SealPolicy,
) -> None:
    """With C2 under hold, dispose deletes only C1's expired bundle and its blob, keeps every
    manifest, seals a certificate, and verify --deep reports them disposed, not tampered."""
    journal.append([slack_message(i, channel="C1") for i in range(3)])
    data = b"%PDF-1.7 expired trade confirmation"
    att = stored_attachment(data)
    blob_key = gov_policy.layout.blob_key(att.sha256 or "")
    until = datetime.now(UTC).replace(microsecond=0) + timedelta(seconds=2)
    stores["archiver"].put(
        blob_key, data, sha256_hex=att.sha256 or "", retention=Retention("GOVERNANCE", until)
    )
    journal.append([slack_message(3, channel="C1", attachments=(att,))])
    clock = SystemClock()
    seal(journal, stores["archiver"], signer, replace(gov_policy, max_records=4), clock)
    journal.append([slack_message(10 + i, channel="C2") for i in range(5)])
    rows = seal(journal, stores["archiver"], signer, gov_policy, clock).bundles
    assert [r.number for r in rows] == [2]
    ctx = HoldContext(journal, stores["archiver"], stores["legal"], signer, gov_policy, clock)
    create_hold(ctx, "matter-c2", Scope(conversations=("C2",)), Officer("officer-4", clock.now()))
    _wait_past(rows[0].retain_until)
    layout = gov_policy.layout
    plan = plan_disposition(stores["auditor"], layout, clock.now())
    assert [o.bundle for o in plan.records] == [1]
    assert plan.records[0].conversations == {"slack:T0001:C1": 4}
    assert [o.key for o in plan.blobs] == [blob_key]
    who = Officer("officer-4", clock.now())
    certificate = dispose(
        journal, stores["archiver"], stores["disposition"], signer, gov_policy, clock, who
    )
    assert certificate is not None and certificate.deleted == 2
    assert certificate.payload["by"] == "officer-4"
    assert certificate.payload["records_objects"][0]["sha256"]
    assert not [v for v in stores["auditor"].versions(layout.records_key(1))]
    assert [v for v in stores["auditor"].versions(layout.manifest_key(1))]
    assert [v for v in stores["auditor"].versions(layout.records_key(2))]  # held
    keys = {signer.public.key_id: signer.public}
    report = verify_stream(stores["auditor"], layout, keys, deep=True)
    assert report.ok, report.findings
    assert {d["key"] for d in report.disposed} == {layout.records_key(1), blob_key}
    assert plan_disposition(stores["auditor"], layout, clock.now()).records == []


def test_deletion_without_certificate_is_tampering(
    journal: SqliteJournal,
    stores: dict[str, S3ArchiveStore],
    signer: Signer,
    gov_policy: SealPolicy,
) -> None:
    """An expired records object deleted outside dispose (no certificate) is reported as
    missing and not covered by a certificate: verify fails."""
    journal.append([slack_message(i) for i in range(3)])
    (row,) = seal(journal, stores["archiver"], signer, gov_policy, SystemClock()).bundles
    _wait_past(row.retain_until)
    key = gov_policy.layout.records_key(1)
    stores["disposition"].delete_version(key, row.records_version or "")
    report = verify_stream(
        stores["auditor"], gov_policy.layout, {signer.public.key_id: signer.public}
    )
    assert not report.ok and not report.disposed
    assert [f.check for f in report.findings] == ["records"]
    assert "no disposition certificate covers it" in report.findings[0].message


def test_dispose_cli_dry_run_then_dispose(
    tmp_path: Path,
    s3_endpoint: LocalS3Endpoint,
    gov_bucket: str,
    stores: dict[str, S3ArchiveStore],
) -> None:
    """dispose --dry-run lists the expired bundle with per-conversation counts and deletes
    nothing; dispose needs the disposition identity, deletes and certifies; verify passes."""
    env = {
        "CHATKEEPER_HOME": str(tmp_path / "home"),
        "CHATKEEPER_S3_ENDPOINT": s3_endpoint.url,
        "CHATKEEPER_S3_BUCKET": gov_bucket,
        "CHATKEEPER_S3_ACCESS_KEY": s3_endpoint.archiver.access_key,
        "CHATKEEPER_S3_SECRET_KEY": s3_endpoint.archiver.secret_key,
        "CHATKEEPER_ARCHIVE_RETENTION_MODE": "GOVERNANCE",
        "CHATKEEPER_ARCHIVE_RETENTION_DAYS": "1",
        "CHATKEEPER_ARCHIVE_MIN_RETENTION_DAYS": "1",
    }
    journal_path = Path(env["CHATKEEPER_HOME"]) / "journal.db"
    signer_dir = Path(env["CHATKEEPER_HOME"]) / "keys"
    signer = load_or_create_signer(signer_dir)
    policy = SealPolicy(
        layout=Layout(stream="main"),
        retention_mode="GOVERNANCE",
        retention_days=1,
        min_retention_days=0,
        retention_rules=(SHORT,),
    )
    with SqliteJournal(journal_path) as journal:
        journal.append([slack_message(i, channel="C5") for i in range(3)])
        (row,) = seal(journal, stores["archiver"], signer, policy, SystemClock()).bundles
    _wait_past(row.retain_until)
    runner = CliRunner()
    dry = runner.invoke(cli, ["dispose", "--dry-run"], env=env)
    assert dry.exit_code == 0, dry.output
    assert "bundle 1: 3 records" in dry.output and "slack:T0001:C5: 3 records" in dry.output
    assert [v for v in stores["auditor"].versions(policy.layout.records_key(1))]
    refused = runner.invoke(cli, ["dispose"], env=env)
    assert refused.exit_code == 2 and "s3.disposition_access_key" in refused.output
    full = {
        **env,
        "CHATKEEPER_S3_DISPOSITION_ACCESS_KEY": s3_endpoint.disposition.access_key,
        "CHATKEEPER_S3_DISPOSITION_SECRET_KEY": s3_endpoint.disposition.secret_key,
    }
    done = runner.invoke(cli, ["dispose", "--officer", "officer-5"], env=full)
    assert done.exit_code == 0, done.output
    assert "disposed of 1 object versions; certificate sealed" in done.output
    verified = runner.invoke(cli, ["verify"], env=env)
    assert verified.exit_code == 0, verified.output
    assert "disposed:        1 objects" in verified.output
    assert runner.invoke(cli, ["dispose"], env=full).output.strip() == "nothing to dispose of"
    exported = runner.invoke(
        cli, ["export", "--format", "jsonl", "--out", str(tmp_path / "x")], env=env
    )
    assert exported.exit_code == 0, exported.output
    assert (tmp_path / "x" / "records.jsonl").read_text().count('"kind":"disposition"') == 1
