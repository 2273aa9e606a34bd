"""Least privilege for real: each duty's IAM policy against what chatkeeper does in that duty.

The policies are the literal ``aws_iam_policy_document`` blocks of
deploy/terraform/iam.tf (parsed by deploy/iam/policies.py). The embedded SeaweedFS
here gets its identities from the same blocks. chatkeeper then runs its real
code paths with each duty's credentials while every S3 call is recorded from the
boto3 client:

* archiver: the attachment worker's blob upload, ``seal`` (crashing once after the
  manifest upload, so the next ``seal`` reads its own stream back to adopt it),
  the sealing of hold records and of the disposition certificate, ``retention extend``;
* legal: ``hold create``, the seal-time hold of ``seal`` and ``hold release``;
* disposition: ``dispose`` (plans from manifests, retention and legal holds, then
  deletes the expired, unheld versions);
* auditor: ``hold list``, ``dispose --dry-run``, ``verify --deep`` and ``export``;
* console: ``verify --deep`` and ``export`` (with a matter open, so both read legal holds).

A duty whose policy allows an S3 action its code never used, or whose code used
an action its policy does not allow, fails; so does a call outside the policy's
resources.
"""

from __future__ import annotations

import asyncio
import base64
import hashlib
import io
import json
import secrets
import time
from collections.abc import Iterator
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any
from unittest import mock

import pytest
from botocore.exceptions import ClientError
from click.testing import CliRunner

from archive.attachments import store_blob
from archive.bundle import Layout
from archive.capture import capture
from archive.clock import SystemClock
from archive.errors import JournalError
from archive.journal.port import BundleRow, BundleState
from archive.journal.sqlite import SqliteJournal
from archive.keys import load_or_create_signer
from archive.retention_class import RetentionRule
from archive.seal import SealPolicy, seal
from archive.store import Retention
from archive.store.local_s3 import LocalS3
from archive.store.s3 import S3ArchiveStore, make_client
from chatkeeper.cli import cli
from deploy.iam import policies
from tests.deploy.s3_recorder import S3Call, recording
from tests.exporters.export_fixtures import BLOBS, archive_records
from tests.factories import slack_message, stored_attachment

WITH_CODE = policies.DUTIES  # every duty's code exists: each one is compared
# Allowed by a policy because an issue asks for it, not used by any code yet. Each
# entry must stay unused: once code uses it, it moves into the comparison.
PENDING: dict[str, dict[str, str]] = {}
BUCKET = "duties"
SHORT = RetentionRule(("slack",), timedelta(seconds=2), "slack=2s")  # expires during the run


@dataclass
class DutyRun:
    keys: dict[str, tuple[str, str]]
    calls: dict[str, list[S3Call]]
    endpoint: str
    outputs: dict[str, str]


def _env(
    home: Path,
    url: str,
    keys: tuple[str, str],
    *,
    legal: tuple[str, str] = ("", ""),
    disposition: tuple[str, str] = ("", ""),
) -> dict[str, str]:
    return {
        "CHATKEEPER_S3_LEGAL_ACCESS_KEY": legal[0],
        "CHATKEEPER_S3_LEGAL_SECRET_KEY": legal[1],
        "CHATKEEPER_S3_DISPOSITION_ACCESS_KEY": disposition[0],
        "CHATKEEPER_S3_DISPOSITION_SECRET_KEY": disposition[1],
        "CHATKEEPER_HOME": str(home),
        "CHATKEEPER_S3_ENDPOINT": url,
        "CHATKEEPER_S3_BUCKET": BUCKET,
        "CHATKEEPER_S3_ACCESS_KEY": keys[0],
        "CHATKEEPER_S3_SECRET_KEY": keys[1],
        "CHATKEEPER_ARCHIVE_RETENTION_DAYS": "1",
        "CHATKEEPER_ARCHIVE_MIN_RETENTION_DAYS": "1",
        "CHATKEEPER_EXPORT_OPERATOR": "officer@example.com",
    }


@pytest.fixture(scope="module")
def duty_s3(tmp_path_factory: pytest.TempPathFactory) -> Iterator[tuple[LocalS3, dict[str, Any]]]:
    """SeaweedFS whose identities come from the Terraform policy documents."""
    state = tmp_path_factory.mktemp("duty-s3")
    keys = policies.random_keys()
    document = policies.seaweedfs_identities(BUCKET, keys)
    (state / "identities.json").write_text(json.dumps(document))
    (state / "identities.json").chmod(0o600)
    server = LocalS3(state)
    server.start()
    server.ensure_bucket(BUCKET, mode="COMPLIANCE", days=1)
    yield server, keys
    server.stop()


def _crash_after_manifest(original: Any) -> Any:
    def update_bundle(self: SqliteJournal, row: BundleRow) -> None:
        if row.state is BundleState.SEALED:
            raise JournalError("injected: crash after the manifest upload")
        original(self, row)

    return update_bundle


@pytest.fixture(scope="module")
def duty_run(
    duty_s3: tuple[LocalS3, dict[str, Any]], tmp_path_factory: pytest.TempPathFactory
) -> DutyRun:
    """Every duty with code runs its real commands once, each S3 call recorded."""
    server, keys = duty_s3
    assert server.endpoint is not None
    url = server.endpoint.url
    home = tmp_path_factory.mktemp("duty-home")
    outputs: dict[str, str] = {}
    runner = CliRunner()
    with recording() as recorder:
        archiver = keys["archiver"]
        store = S3ArchiveStore(make_client(url, *archiver), BUCKET)
        # The attachment worker stored the files earlier, so sealing extends their retention.
        until = datetime.now(UTC).replace(microsecond=0) + timedelta(hours=20)
        for sha256_hex, data in BLOBS.items():
            store_blob(
                store,
                Layout("main"),
                io.BytesIO(data),
                size=len(data),
                sha256_hex=sha256_hex,
                retention=Retention("COMPLIANCE", until),
            )
        with SqliteJournal(home / "journal.db") as journal:
            asyncio.run(capture(journal, archive_records()))
        crash = _crash_after_manifest(SqliteJournal.update_bundle)
        with mock.patch.object(SqliteJournal, "update_bundle", crash):
            first = runner.invoke(cli, ["seal"], env=_env(home, url, archiver))
        outputs["seal-crashed"] = first.output
        second = runner.invoke(cli, ["seal"], env=_env(home, url, archiver))
        outputs["seal"] = second.output
        officer = _env(home, url, archiver, legal=keys["legal"], disposition=keys["disposition"])
        _records_duties(runner, home, url, keys, officer, outputs, store)
        for duty in ("auditor", "console"):
            env = _env(home, url, keys[duty])
            verified = runner.invoke(cli, ["verify", "--deep"], env=env)
            out = home.parent / f"export-{duty}-{secrets.token_hex(3)}"
            exported = runner.invoke(
                cli, ["export", "--format", "jsonl", "--out", str(out)], env=env
            )
            outputs[f"{duty}-verify"] = f"{verified.exit_code}\n{verified.output}"
            outputs[f"{duty}-export"] = f"{exported.exit_code}\n{exported.output}"
        released = runner.invoke(cli, ["hold", "release", "matter-1"], env=officer)
        outputs["hold-release"] = f"{released.exit_code}\n{released.output}"
    calls = {duty: recorder.by(keys[duty][0]) for duty in policies.DUTIES}
    return DutyRun(keys, calls, url, outputs)


def _records_duties(
    runner: CliRunner,
    home: Path,
    url: str,
    keys: dict[str, tuple[str, str]],
    officer: dict[str, str],
    outputs: dict[str, str],
    store: S3ArchiveStore,
) -> None:
    """Holds, retention and disposition, each command with the identities it is given."""

    def run(name: str, args: list[str], env: dict[str, str]) -> None:
        result = runner.invoke(cli, args, env=env)
        outputs[name] = f"{result.exit_code}\n{result.output}"

    run("hold-create", ["hold", "create", "matter-1", "--conversation", "C0DEALS01"], officer)
    with SqliteJournal(home / "journal.db") as journal:
        asyncio.run(capture(journal, [slack_message(1, channel="C0DEALS01")]))
    run("seal-held", ["seal"], officer)  # the seal-time hold, with the legal identity
    until = (datetime.now(UTC) + timedelta(days=3)).date().isoformat()
    run("retention-extend", ["retention", "extend", "--bundle", "1", "--until", until], officer)
    # A bundle of a 2-second retention class (sealing takes rules in whole days from the
    # configuration, so this one is sealed by the same code with the rule given directly).
    data = b"%PDF-1.7 an expired trade confirmation"
    attachment = stored_attachment(data, name="expired.pdf")
    layout = Layout("main")
    soon = datetime.now(UTC).replace(microsecond=0) + timedelta(seconds=2)
    store.put(
        layout.blob_key(attachment.sha256 or ""),
        data,
        sha256_hex=attachment.sha256 or "",
        retention=Retention("COMPLIANCE", soon),
    )
    policy = SealPolicy(
        layout=layout, retention_days=1, min_retention_days=0, retention_rules=(SHORT,)
    )
    with SqliteJournal(home / "journal.db") as journal:
        expired = [slack_message(2, channel="C0OLD0001", attachments=(attachment,))]
        asyncio.run(capture(journal, expired))
        (row,) = seal(
            journal, store, load_or_create_signer(home / "keys"), policy, SystemClock()
        ).bundles
    while datetime.now(UTC) <= row.retain_until + timedelta(seconds=1):
        time.sleep(0.2)  # S3 enforces real time: wait the two seconds out
    auditor = _env(home, url, keys["auditor"])
    run("hold-list", ["hold", "list"], auditor)
    run("dispose-dry-run", ["dispose", "--dry-run"], auditor)
    run("dispose", ["dispose", "--officer", "officer-1"], officer)


def _used(calls: list[S3Call]) -> set[str]:
    return {a for c in calls for a in policies.actions_for(c.operation, c.auth_params())}


def test_the_recorded_runs_did_their_duty(duty_run: DutyRun) -> None:
    """The archiver crashed once, resumed and sealed; legal held, disposition disposed;
    auditor and console verified (holds checked, disposal certified) and exported."""
    out = duty_run.outputs
    assert "injected: crash after the manifest upload" in out["seal-crashed"]
    assert f"sealed bundle 1: {len(archive_records())} records" in out["seal"]
    for name in ("hold-create", "seal-held", "retention-extend", "hold-list", "dispose"):
        assert out[name].startswith("0\n"), out
    assert "matter 'matter-1' is open: 3 objects under legal hold" in out["hold-create"]
    assert "placed the legal hold of open matters on 2 new objects" in out["seal-held"]
    assert "objects moved" in out["retention-extend"]
    assert "would dispose of 1 records objects and 1 blobs" in out["dispose-dry-run"]
    assert "disposed of 2 object versions; certificate sealed" in out["dispose"]
    for duty in ("auditor", "console"):
        assert out[f"{duty}-verify"].startswith("0\n"), out
        assert "INTACT" in out[f"{duty}-verify"]
        assert "legal holds:     5 objects of open matters checked" in out[f"{duty}-verify"]
        assert "disposed:        2 objects" in out[f"{duty}-verify"]
        assert out[f"{duty}-export"].startswith("0\n"), out
    assert out["hold-release"].startswith("0\n"), out


@pytest.mark.parametrize("duty", WITH_CODE)
def test_policy_allows_exactly_what_the_code_uses(duty_run: DutyRun, duty: str) -> None:
    """Allowed S3 actions (Terraform) equal the actions of the recorded calls, pending aside."""
    allowed = policies.allowed(duty, bucket=BUCKET)
    pending = set(PENDING.get(duty, {}))
    used = _used(duty_run.calls[duty])
    assert used, f"no S3 call was recorded for {duty}"
    assert not used - allowed, f"{duty} uses actions its policy does not allow"
    assert not (allowed - pending) - used, f"{duty}'s policy allows actions it never uses"


@pytest.mark.parametrize("duty", WITH_CODE)
def test_pending_allowances_are_still_unused(duty_run: DutyRun, duty: str) -> None:
    """A pending allowance that code now uses must leave PENDING and be compared."""
    used = _used(duty_run.calls[duty])
    for action, reason in PENDING.get(duty, {}).items():
        assert action in policies.allowed(duty, bucket=BUCKET), reason
        assert action not in used, f"{duty} now uses {action}: remove it from PENDING"


@pytest.mark.parametrize("duty", WITH_CODE)
def test_every_call_is_within_the_policys_resources(duty_run: DutyRun, duty: str) -> None:
    """Each recorded call's bucket, key or listing prefix matches an allowing statement."""
    for call in duty_run.calls[duty]:
        for action in policies.actions_for(call.operation, call.auth_params()):
            assert call.bucket == BUCKET
            if action == "s3:ListBucketVersions":
                assert policies.permits_listing(duty, BUCKET, call.prefix or ""), call
            else:
                assert policies.permits(duty, action, BUCKET, call.key), (action, call)


def test_every_duty_is_compared() -> None:
    """No duty of the policy source escapes the comparison."""
    documents, _ = policies.read_source()
    duties = set(documents) - {"assume", "archive_key", "archive_bucket"}
    assert duties == set(WITH_CODE) == set(policies.DUTIES)
    for duty in policies.DUTIES:
        actions = {a for s in policies.statements(duty) for a in s.actions}
        assert not any("*" in a for a in actions), f"{duty} has a wildcard action"


def _probes(key: str, version: str, until: datetime) -> dict[str, tuple[str, dict[str, Any]]]:
    data = b"probe"
    digest = hashlib.sha256(data).hexdigest()
    checksum = base64.b64encode(bytes.fromhex(digest)).decode()
    put = {"Key": "streams/main/probe", "Body": data, "ChecksumSHA256": checksum}
    locked = {**put, "ObjectLockMode": "COMPLIANCE", "ObjectLockRetainUntilDate": until}
    later = {"Mode": "COMPLIANCE", "RetainUntilDate": until + timedelta(days=1)}
    return {
        "put locked object": ("PutObject", locked),
        "read a version": ("GetObject", {"Key": key, "VersionId": version}),
        "list versions": ("ListObjectVersions", {"Prefix": "streams/main/"}),
        "read retention": ("GetObjectRetention", {"Key": key, "VersionId": version}),
        "extend retention": (
            "PutObjectRetention",
            {"Key": key, "VersionId": version, "Retention": later},
        ),
        "read legal hold": ("GetObjectLegalHold", {"Key": key, "VersionId": version}),
        "set legal hold": (
            "PutObjectLegalHold",
            {"Key": key, "VersionId": version, "LegalHold": {"Status": "OFF"}},
        ),
        "add a delete marker": ("DeleteObject", {"Key": "streams/main/none"}),
        "change lock configuration": (
            "PutObjectLockConfiguration",
            {
                "ObjectLockConfiguration": {
                    "ObjectLockEnabled": "Enabled",
                    "Rule": {"DefaultRetention": {"Mode": "GOVERNANCE", "Days": 1}},
                }
            },
        ),
        "delete a locked version with bypass": (
            "DeleteObject",
            {"Key": key, "VersionId": version, "BypassGovernanceRetention": True},
        ),
    }


def _attempt(client: Any, operation: str, params: dict[str, Any]) -> str:
    method = {
        "PutObject": client.put_object,
        "GetObject": client.get_object,
        "ListObjectVersions": client.list_object_versions,
        "GetObjectRetention": client.get_object_retention,
        "PutObjectRetention": client.put_object_retention,
        "GetObjectLegalHold": client.get_object_legal_hold,
        "PutObjectLegalHold": client.put_object_legal_hold,
        "DeleteObject": client.delete_object,
        "PutObjectLockConfiguration": client.put_object_lock_configuration,
    }[operation]
    try:
        method(Bucket=BUCKET, **params)
    except ClientError as exc:
        return str(exc.response.get("Error", {}).get("Code", "?"))
    return "ok"


@pytest.mark.parametrize("duty", policies.DUTIES)
def test_seaweedfs_refuses_each_identity_outside_its_duty(
    duty_s3: tuple[LocalS3, dict[str, Any]], duty: str
) -> None:
    """SeaweedFS, given the policy source's identities, refuses what a duty's policy does not allow.

    Where SeaweedFS's actions are coarser than IAM (``Write`` is put and delete),
    policies.seaweedfs_extra names what the identity can do there beyond its policy;
    of those probes, a delete by any duty but disposition must still be refused (by the
    bucket policy the embedded S3 sets).
    """
    server, keys = duty_s3
    assert server.endpoint is not None
    admin = server.endpoint.admin
    admin_client = make_client(server.endpoint.url, admin.access_key, admin.secret_key)
    until = datetime.now(UTC).replace(microsecond=0) + timedelta(days=1)
    key = f"streams/main/probe-target-{duty}"
    data = b"target"
    version = admin_client.put_object(
        Bucket=BUCKET,
        Key=key,
        Body=data,
        ObjectLockMode="COMPLIANCE",
        ObjectLockRetainUntilDate=until,
    )["VersionId"]
    client = make_client(server.endpoint.url, *keys[duty], max_attempts=1)
    allowed = policies.allowed(duty, bucket=BUCKET)
    extra = policies.seaweedfs_extra(duty, BUCKET)
    refused, granted = [], []
    for name, (operation, params) in _probes(key, version, until).items():
        needed = policies.actions_for(operation, params)
        outcome = _attempt(client, operation, params)
        if needed <= allowed:
            granted.append(name)
            assert outcome != "AccessDenied" or "VersionId" in params, (name, outcome)
        elif needed <= allowed | extra:
            # Granted by SeaweedFS's coarser action only: a delete is then refused by the
            # bucket policy LocalS3.ensure_bucket sets (only disposition deletes).
            if needed & {"s3:DeleteObject", "s3:DeleteObjectVersion"} and duty != "disposition":
                assert outcome == "AccessDenied", (name, outcome)
        else:
            refused.append(name)
            assert outcome == "AccessDenied", (name, outcome)
    assert "change lock configuration" in refused
    assert "delete a locked version with bypass" in refused
    if duty != "archiver":
        assert "put locked object" in refused
    if duty != "legal":
        assert "set legal hold" in refused
