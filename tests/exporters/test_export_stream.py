"""``chatkeeper export`` runs the stream-level checks of verify first, on the real SeaweedFS."""

from __future__ import annotations

import hashlib
import json
import secrets
from dataclasses import replace
from datetime import UTC, datetime, timedelta
from pathlib import Path

import pytest
from click.testing import CliRunner, Result

from archive.bundle import Layout
from archive.journal.sqlite import SqliteJournal
from archive.store.local_s3 import LocalS3, LocalS3Endpoint
from archive.store.port import Retention
from archive.store.s3 import S3ArchiveStore, make_client
from chatkeeper.cli import cli
from exporters.output import MANIFEST_NAME
from tests.exporters.export_fixtures import BLOBS, archive_records
from tests.exporters.test_export_cli import env  # noqa: F401  (the sealed sample archive)

LAYOUT = Layout("main")


def _retention() -> Retention:
    return Retention("COMPLIANCE", datetime.now(UTC).replace(microsecond=0) + timedelta(days=2))


def _export(values: dict[str, str], out: Path, *extra: str) -> Result:
    return CliRunner().invoke(
        cli, ["export", "--format", "html", "--out", str(out), *extra], env=values
    )


def _extra_version(store: S3ArchiveStore) -> None:
    """A later PUT beside the locked manifest of bundle 3 (S3 keeps both versions)."""
    fake = json.dumps({"format": "chatkeeper-bundle/1", "bundle": 3}).encode()
    store.put(
        LAYOUT.manifest_key(3),
        fake,
        sha256_hex=hashlib.sha256(fake).hexdigest(),
        retention=_retention(),
    )


def test_extra_object_version_refuses_the_export(
    env: dict[str, str],  # noqa: F811
    store: S3ArchiveStore,
    tmp_path: Path,
) -> None:
    """A second version of a sealed manifest stops the export (exit 3), naming the finding."""
    _extra_version(store)
    result = _export(env, tmp_path / "out")
    assert result.exit_code == 3, result.output
    output = result.output
    assert (
        "  ! bundle 3 [versions] manifest.json has extra versions written after sealing" in output
    )
    assert "chatkeeper: error: export refused: the stream failed verification" in output
    assert "Traceback" not in output
    assert not (tmp_path / "out" / MANIFEST_NAME).exists()


def test_delete_marker_refuses_the_export(
    env: dict[str, str],  # noqa: F811
    s3_endpoint: LocalS3Endpoint,
    bucket: str,
    tmp_path: Path,
) -> None:
    """A delete marker on a sealed records object (an attempted delete) stops the export."""
    admin = make_client(s3_endpoint.url, s3_endpoint.admin.access_key, s3_endpoint.admin.secret_key)
    admin.delete_object(Bucket=bucket, Key=LAYOUT.records_key(2))
    result = _export(env, tmp_path / "out")
    assert result.exit_code == 3, result.output
    assert "  ! bundle 2 [versions] records.jsonl.zst has a delete marker" in result.output


@pytest.fixture
def tail_removed(
    tmp_path: Path,
    s3_endpoint: LocalS3Endpoint,
    bucket: str,
    store: S3ArchiveStore,
    local_s3: LocalS3,
) -> dict[str, str]:
    """The journal sealed bundles 1-3, but bundle 3 is not in the bucket exported from."""
    other = f"elsewhere-{secrets.token_hex(5)}"
    local_s3.ensure_bucket(other, mode="COMPLIANCE", days=1)
    for target in (store, S3ArchiveStore(store.client, other)):
        for sha, data in BLOBS.items():
            target.put(LAYOUT.blob_key(sha), data, sha256_hex=sha, retention=_retention())
    values = {
        "CHATKEEPER_HOME": str(tmp_path / "home"),
        "CHATKEEPER_S3_ENDPOINT": s3_endpoint.url,
        "CHATKEEPER_S3_BUCKET": bucket,
        "CHATKEEPER_S3_ACCESS_KEY": s3_endpoint.archiver.access_key,
        "CHATKEEPER_S3_SECRET_KEY": s3_endpoint.archiver.secret_key,
        "CHATKEEPER_ARCHIVE_RETENTION_DAYS": "1",
        "CHATKEEPER_ARCHIVE_MIN_RETENTION_DAYS": "1",
        "CHATKEEPER_ARCHIVE_BUNDLE_MAX_RECORDS": "10",
    }
    records = [replace(r, seq=None) for r in archive_records()]
    runner = CliRunner()
    for chunk, target in ((records[:20], bucket), (records[20:], other)):
        with SqliteJournal(tmp_path / "home" / "journal.db") as journal:
            journal.append(chunk)
        sealed = runner.invoke(cli, ["seal"], env={**values, "CHATKEEPER_S3_BUCKET": target})
        assert sealed.exit_code == 0, sealed.output
    return {
        **values,
        "CHATKEEPER_S3_ACCESS_KEY": s3_endpoint.auditor.access_key,
        "CHATKEEPER_S3_SECRET_KEY": s3_endpoint.auditor.secret_key,
    }


def test_missing_bundle_refuses_the_export(tail_removed: dict[str, str], tmp_path: Path) -> None:
    """A bundle the journal sealed but the bucket lacks (a removed tail) is a gap: exit 3."""
    result = _export(tail_removed, tmp_path / "out")
    assert result.exit_code == 3, result.output
    assert "  ! stream [gap] bundles 3..3 are missing from the store" in result.output


def test_allow_unverified_exports_a_tampered_stream_marked(
    env: dict[str, str],  # noqa: F811
    store: S3ArchiveStore,
    tmp_path: Path,
) -> None:
    """--allow-unverified exports; custody, HTML, warnings and verify-export say unverified."""
    _extra_version(store)
    out = tmp_path / "out"
    result = _export(env, out, "--allow-unverified")
    assert result.exit_code == 0, result.output
    finding = "bundle 3 [versions] manifest.json has extra versions written after sealing"
    assert f"WARNING: the stream failed verification: {finding}" in result.stderr
    assert "bundles 1-3 (trusted keys" in result.output
    assert ", UNVERIFIED)" in result.output
    custody = json.loads((out / MANIFEST_NAME).read_text("utf-8"))
    verification = custody["verification"]
    assert verification["status"] == "unverified"
    assert verification["allow_unverified"] is True
    assert verification["stream_findings"] == [finding]
    assert verification["unverified_bundles"] == [1, 2, 3]
    problems = {b["number"]: b["problem"] for b in custody["bundles"]}
    assert problems[3] == "manifest.json has extra versions written after sealing"
    assert problems[1] == "read from a stream that failed verification"
    page = (out / "html" / "slack-T0001-C0DEALS01.html").read_text("utf-8")
    assert '<header class="export unverified">' in page
    assert "the stream failed verification (1 finding(s)" in page
    check = CliRunner().invoke(cli, ["verify-export", str(out)], env=env)
    assert check.exit_code == 0, check.output
    assert f"note: the stream failed verification: {finding}" in check.output


def test_intact_stream_exports_verified(env: dict[str, str], tmp_path: Path) -> None:  # noqa: F811
    """An untouched stream passes the stream check and its custody manifest says verified."""
    out = tmp_path / "out"
    result = _export(env, out)
    assert result.exit_code == 0, result.output
    assert "UNVERIFIED" not in result.output
    custody = json.loads((out / MANIFEST_NAME).read_text("utf-8"))
    assert custody["verification"]["status"] == "verified"
    assert custody["verification"]["stream_findings"] == []


def test_run_export_refuses_stream_problems_unless_allowed(tmp_path: Path) -> None:
    """The pipeline itself refuses a stream finding, so no caller can skip the refusal."""
    from archive.errors import IntegrityError
    from tests.exporters.export_fixtures import run

    problem = "stream [layout] unexpected object streams/main/bundles/stray"
    with pytest.raises(IntegrityError, match="unexpected object"):
        run("html", tmp_path / "refused", stream_problems=(problem,))
    assert not (tmp_path / "refused" / MANIFEST_NAME).exists()
    run("html", tmp_path / "allowed", stream_problems=(problem,), allow_unverified=True)
    custody = json.loads((tmp_path / "allowed" / MANIFEST_NAME).read_text("utf-8"))
    assert custody["verification"]["status"] == "unverified"
    assert custody["verification"]["stream_findings"] == [problem]
    page = (tmp_path / "allowed" / "html" / "slack-T0001-C0DEALS01.html").read_text("utf-8")
    assert '<header class="export unverified">' in page
    assert (
        "UNVERIFIED: bundles 1-3 read with --allow-unverified; the stream failed verification"
        in page
    )
