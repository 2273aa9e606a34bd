"""``chatkeeper export`` and ``verify-export`` in-process against a sealed archive on SeaweedFS."""

from __future__ import annotations

import json
from dataclasses import replace
from datetime import UTC, datetime, timedelta
from pathlib import Path

import pytest
from click.testing import CliRunner

from archive.bundle import Layout
from archive.journal.sqlite import SqliteJournal
from archive.seal import SealPolicy
from archive.store.local_s3 import LocalS3, LocalS3Endpoint
from archive.store.port import Retention
from archive.store.s3 import S3ArchiveStore
from chatkeeper.cli import cli
from exporters.output import MANIFEST_NAME
from tests.exporters.export_fixtures import BLOBS, TG_GROUP, archive_records
from tests.exporters.test_export_archive import _tampered_copy


@pytest.fixture
def env(
    tmp_path: Path, s3_endpoint: LocalS3Endpoint, bucket: str, store: S3ArchiveStore
) -> dict[str, str]:
    """The sample archive in the journal and its blobs in the bucket, sealed by the CLI."""
    values = {
        "CHATKEEPER_HOME": str(tmp_path / "home"),
        "CHATKEEPER_S3_ENDPOINT": s3_endpoint.url,
        "CHATKEEPER_S3_BUCKET": bucket,
        "CHATKEEPER_S3_ACCESS_KEY": s3_endpoint.auditor.access_key,
        "CHATKEEPER_S3_SECRET_KEY": s3_endpoint.auditor.secret_key,
        "CHATKEEPER_ARCHIVE_RETENTION_DAYS": "1",
        "CHATKEEPER_ARCHIVE_MIN_RETENTION_DAYS": "1",
        "CHATKEEPER_ARCHIVE_BUNDLE_MAX_RECORDS": "10",
        "CHATKEEPER_EXPORT_OPERATOR": "officer@example.com",
    }
    retention = Retention(
        "COMPLIANCE", datetime.now(UTC).replace(microsecond=0) + timedelta(days=2)
    )
    for sha, data in BLOBS.items():
        store.put(Layout("main").blob_key(sha), data, sha256_hex=sha, retention=retention)
    with SqliteJournal(tmp_path / "home" / "journal.db") as journal:
        journal.append([replace(r, seq=None) for r in archive_records()])
    archiver = {
        **values,
        "CHATKEEPER_S3_ACCESS_KEY": s3_endpoint.archiver.access_key,
        "CHATKEEPER_S3_SECRET_KEY": s3_endpoint.archiver.secret_key,
    }
    sealed = CliRunner().invoke(cli, ["seal"], env=archiver)
    assert sealed.exit_code == 0, sealed.output
    return values


def test_export_rsmf_then_verify_export(env: dict[str, str], tmp_path: Path) -> None:
    """export writes RSMF files and the custody manifest; verify-export says intact."""
    out = tmp_path / "out"
    runner = CliRunner()
    result = runner.invoke(cli, ["export", "--format", "rsmf", "--out", str(out)], env=env)
    assert result.exit_code == 0, result.output
    assert "read 29 records from bundles 1-3 (trusted keys" in result.output
    assert len(list(out.rglob("*.rsmf"))) == 5
    custody = json.loads((out / MANIFEST_NAME).read_text("utf-8"))
    assert custody["operator"] == "officer@example.com"
    assert custody["tool"]["version"] == "0.1.0"
    assert [b["verified"] for b in custody["bundles"]] == [True, True, True]
    check = runner.invoke(cli, ["verify-export", str(out)], env=env)
    assert check.exit_code == 0, check.output
    assert "INTACT (5 files checked, custody manifest signed by pinned export key" in check.output
    next(out.rglob("*.rsmf")).write_bytes(b"changed")
    check = runner.invoke(cli, ["verify-export", str(out)], env=env)
    assert check.exit_code == 3
    assert "changed: rsmf/" in check.output


def test_export_jsonl_passes_sealed_lines_and_verify_export_accepts_them(
    env: dict[str, str], tmp_path: Path, store: S3ArchiveStore
) -> None:
    """jsonl from the CLI holds each sealed line's bytes; verify-export says intact."""
    import io

    from archive.bundle import iter_lines

    out = tmp_path / "out"
    runner = CliRunner()
    result = runner.invoke(cli, ["export", "--format", "jsonl", "--out", str(out)], env=env)
    assert result.exit_code == 0, result.output
    sealed = []
    for number in (1, 2, 3):
        key = Layout("main").records_key(number)
        (version,) = [v for v in store.versions(key) if v.key == key]
        sealed += [
            (number, line) for line in iter_lines(io.BytesIO(store.get(key, version.version_id)))
        ]
    exported = (out / "records.jsonl").read_bytes().splitlines()
    assert exported == [b'{"bundle":%d,%b,"verified":true}' % (n, x[1:-1]) for n, x in sealed]
    for line, (number, sealed_line) in zip(exported, sealed, strict=True):
        value = json.loads(line)  # an ordinary JSON reader sees the record, seq, bundle, verified
        assert (value["bundle"], value["verified"]) == (number, True)
        assert value["seq"] == json.loads(sealed_line)["seq"]
    check = runner.invoke(cli, ["verify-export", str(out)], env=env)
    assert check.exit_code == 0, check.output
    assert "INTACT (1 files checked" in check.output


def test_export_filters_from_the_command_line(env: dict[str, str], tmp_path: Path) -> None:
    """--platform, --bundle and --to narrow what is read and written."""
    runner = CliRunner()
    out = tmp_path / "tg"
    args = ["export", "--format", "jsonl", "--out", str(out), "--platform", "telegram"]
    result = runner.invoke(cli, [*args, "--bundle", "3", "--to", "2026-11-02"], env=env)
    assert result.exit_code == 0, result.output
    assert "from bundles 3-3" in result.output
    lines = [json.loads(x) for x in (out / "records.jsonl").read_text("utf-8").splitlines()]
    assert {x["record"]["conversation"] for x in lines} == {TG_GROUP}
    assert {x["bundle"] for x in lines} == {3}
    assert len(lines) == 6


@pytest.mark.parametrize(
    ("args", "message"),
    [
        (["--format", "csv", "--from", "yesterday"], "not a date"),
        (["--format", "html", "--slice", "6h"], "--slice applies to the rsmf format only"),
        (["--format", "rsmf", "--bundle", "9-3"], "not a valid bundle range"),
    ],
)
def test_bad_options_exit_2(
    env: dict[str, str], tmp_path: Path, args: list[str], message: str
) -> None:
    """Unreadable filters are usage errors (exit 2) before anything is read."""
    result = CliRunner().invoke(cli, ["export", *args, "--out", str(tmp_path / "x")], env=env)
    assert result.exit_code == 2
    assert message in result.output


def test_tampered_archive_exit_3_unless_allowed(
    env: dict[str, str],
    store: S3ArchiveStore,
    local_s3: LocalS3,
    tmp_path: Path,
) -> None:
    """A tampered copy of the bucket is refused (exit 3); --allow-unverified exports, with a warning."""
    from archive.clock import FixedClock

    policy = SealPolicy(layout=Layout("main"))
    copy = _tampered_copy(store, local_s3, FixedClock(datetime.now(UTC)), policy)
    tampered = {**env, "CHATKEEPER_S3_BUCKET": copy.bucket}
    runner = CliRunner()
    out = tmp_path / "out"
    refused = runner.invoke(cli, ["export", "--format", "csv", "--out", str(out)], env=tampered)
    assert refused.exit_code == 3
    assert "failed verification" in refused.output
    allowed = runner.invoke(
        cli,
        ["export", "--format", "csv", "--out", str(tmp_path / "allowed"), "--allow-unverified"],
        env=tampered,
    )
    assert allowed.exit_code == 0, allowed.output
    assert "WARNING: bundle 2 is UNVERIFIED" in allowed.stderr
