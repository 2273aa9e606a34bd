"""``chatkeeper index`` and ``chatkeeper search`` in-process against a sealed archive on SeaweedFS."""

from __future__ import annotations

import hashlib
import json
import os
import secrets
from collections.abc import Iterator
from dataclasses import replace
from datetime import UTC, datetime, timedelta
from pathlib import Path

import psycopg
import pytest
from click.testing import CliRunner
from psycopg.conninfo import make_conninfo

from archive.journal.sqlite import SqliteJournal
from archive.store.local_s3 import LocalS3Endpoint
from archive.store.port import Retention
from archive.store.s3 import S3ArchiveStore
from chatkeeper.cli import cli
from exporters.output import MANIFEST_NAME
from tests.search.corpus import corpus

PG_DSN = os.environ.get("CHATKEEPER_TEST_PG_DSN", "")


@pytest.fixture
def env(tmp_path: Path, s3_endpoint: LocalS3Endpoint, bucket: str) -> dict[str, str]:
    """The corpus journaled; the officer's (auditor) environment."""
    with SqliteJournal(tmp_path / "home" / "journal.db") as journal:
        journal.append([replace(r, seq=None) for r in corpus()])
    return {
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


def _seal(env: dict[str, str], s3_endpoint: LocalS3Endpoint, **extra: str) -> str:
    archiver = {
        **env,
        "CHATKEEPER_S3_ACCESS_KEY": s3_endpoint.archiver.access_key,
        "CHATKEEPER_S3_SECRET_KEY": s3_endpoint.archiver.secret_key,
        **extra,
    }
    result = CliRunner().invoke(cli, ["seal"], env=archiver)
    assert result.exit_code == 0, result.output
    return result.output


def _search(env: dict[str, str], *args: str) -> list[dict[str, object]]:
    result = CliRunner().invoke(cli, ["search", *args, "--json"], env=env)
    assert result.exit_code == 0, result.output
    return json.loads(result.output)  # type: ignore[no-any-return]


def test_seal_indexes_the_new_bundles(env: dict[str, str], s3_endpoint: LocalS3Endpoint) -> None:
    """After chatkeeper seal, search finds the sealed records with no separate index step."""
    _seal(env, s3_endpoint)
    result = CliRunner().invoke(cli, ["search", "reunion"], env=env)
    assert result.exit_code == 0, result.output
    lines = result.output.splitlines()
    assert lines[0] == "1 result(s); the index holds bundles 1-3"
    assert (
        lines[1]
        == "2026-11-02 08:06:00Z  slack #deals (C0DEALS01)  Élodie Martin <elodie@example.fr>  [original]"
    )
    assert lines[2] == "    Le café est prêt, **réunion** à midi pour la clôture"


def test_search_json_shows_versions(env: dict[str, str], s3_endpoint: LocalS3Endpoint) -> None:
    """--json gives each hit's conversation, time, sender, version and snippet."""
    _seal(env, s3_endpoint)
    hits = _search(env, '"term sheet"', "from:dana.levi@example.com")
    assert [h["version"] for h in hits] == ["edit 2", "edit 1", "original"]
    first = hits[0]
    assert first["conversation"] == "C0DEALS01" and first["platform"] == "slack"
    assert first["sender"] == {
        "id": "U0DANA",
        "name": "Dana Levi",
        "email": "dana.levi@example.com",
    }
    assert first["occurred_at"] == "2026-11-02T08:03:00.000000Z"
    assert first["snippet"] == "Please review the final **term** **sheet** before signing tomorrow"
    assert hits[2]["files"] == ["term-sheet-v2.pdf"]
    assert len(_search(env, "kind:message", "--limit", "3")) == 3


def test_index_catches_up_and_rebuilds(env: dict[str, str], s3_endpoint: LocalS3Endpoint) -> None:
    """With indexing after seal off, chatkeeper index catches up, then has nothing to do."""
    _seal(env, s3_endpoint, CHATKEEPER_SEARCH_INDEX_AFTER_SEAL="false")
    runner = CliRunner()
    empty = runner.invoke(cli, ["search", "budget"], env=env)
    assert "the index is empty: run chatkeeper index" in empty.output
    first = runner.invoke(cli, ["index"], env=env)
    assert first.exit_code == 0, first.output
    assert "indexed 3 bundle(s), 21 records (trusted keys" in first.output
    assert "the index holds bundles 1-3, 21 records" in first.output
    again = runner.invoke(cli, ["index"], env=env)
    assert "indexed 0 bundle(s), 0 records" in again.output
    rebuilt = runner.invoke(cli, ["index", "--rebuild"], env=env)
    assert "indexed 3 bundle(s), 21 records" in rebuilt.output
    assert [h["version"] for h in _search(env, "whatsapp")] == ["deleted", "original"]


def test_index_reports_refused_bundles_with_exit_3(
    env: dict[str, str], s3_endpoint: LocalS3Endpoint, tmp_path: Path
) -> None:
    """Bundles that fail verification against the given key are reported and exit code is 3."""
    _seal(env, s3_endpoint, CHATKEEPER_SEARCH_INDEX_AFTER_SEAL="false")
    from archive.keys import load_or_create_signer

    stranger = load_or_create_signer(tmp_path / "stranger")
    key_file = tmp_path / "stranger.pub.json"
    key_file.write_bytes(stranger.public.to_json())
    result = CliRunner().invoke(cli, ["index", "--public-key", str(key_file)], env=env)
    assert result.exit_code == 3
    assert "REFUSED: bundle 1 failed verification and was not indexed" in result.output
    assert "indexed 0 bundle(s)" in result.output


def test_search_export_writes_only_matches_with_the_query_in_custody(
    env: dict[str, str], s3_endpoint: LocalS3Endpoint, tmp_path: Path
) -> None:
    """--export jsonl writes exactly the matching records; the custody manifest records the query."""
    _seal(env, s3_endpoint)
    out = tmp_path / "out"
    runner = CliRunner()
    result = runner.invoke(
        cli, ["search", "sheet OR whatsapp", "--export", "jsonl", "--out", str(out)], env=env
    )
    assert result.exit_code == 0, result.output
    assert "exported 5 matching record(s) from 1 bundle(s)" in result.output
    lines = [json.loads(x) for x in (out / "records.jsonl").read_text("utf-8").splitlines()]
    assert sorted(x["seq"] for x in lines) == [2, 3, 4, 5, 6]
    assert all(x["verified"] for x in lines)
    custody = json.loads((out / MANIFEST_NAME).read_text("utf-8"))
    search = custody["request"]["search"]
    assert search["query"] == "sheet OR whatsapp"
    assert search["matched_records"] == 5 and search["bundles"] == [1]
    assert search["index"] == "sqlite"
    assert custody["verification"]["status"] == "verified"
    check = runner.invoke(cli, ["verify-export", str(out)], env=env)
    assert check.exit_code == 0, check.output


def test_search_export_refuses_a_stream_that_fails_the_stream_checks(
    env: dict[str, str], s3_endpoint: LocalS3Endpoint, store: S3ArchiveStore, tmp_path: Path
) -> None:
    """--export runs export's stream checks first: a stray object in the stream refuses it (exit 3)."""
    _seal(env, s3_endpoint)
    stray = b"not written by chatkeeper"
    until = datetime.now(UTC).replace(microsecond=0) + timedelta(days=2)
    store.put(
        "streams/main/bundles/stray",
        stray,
        sha256_hex=hashlib.sha256(stray).hexdigest(),
        retention=Retention("COMPLIANCE", until),
    )
    out = tmp_path / "out"
    result = CliRunner().invoke(
        cli, ["search", "whatsapp", "--export", "jsonl", "--out", str(out)], env=env
    )
    assert result.exit_code == 3, result.output
    assert "unexpected object streams/main/bundles/stray" in result.output
    assert "Traceback" not in result.output
    assert not (out / MANIFEST_NAME).exists()


def test_search_export_html_renders_the_matches(
    env: dict[str, str], s3_endpoint: LocalS3Endpoint, tmp_path: Path
) -> None:
    """--export html renders a transcript holding the matching message and not the others."""
    _seal(env, s3_endpoint)
    out = tmp_path / "html-out"
    result = CliRunner().invoke(
        cli, ["search", "cafe", "platform:slack", "--export", "html", "--out", str(out)], env=env
    )
    assert result.exit_code == 0, result.output
    pages = [p.read_text("utf-8") for p in out.rglob("*.html")]
    assert len(pages) == 1
    assert "réunion à midi" in pages[0] and "Budget for Q3" not in pages[0]


def test_bad_query_is_a_one_line_usage_error(env: dict[str, str]) -> None:
    """A malformed query exits 2 with one chatkeeper: error line and no traceback."""
    result = CliRunner().invoke(cli, ["search", "kind:nonsense"], env=env)
    assert result.exit_code == 2
    assert result.output.strip().startswith("chatkeeper: error: kind:nonsense is not a record kind")
    assert "Traceback" not in result.output


@pytest.fixture
def pg_schema_dsn() -> Iterator[str]:
    if not PG_DSN:
        pytest.skip("CHATKEEPER_TEST_PG_DSN is not set")
    schema = f"ck_search_cli_{secrets.token_hex(6)}"
    with psycopg.connect(PG_DSN, autocommit=True) as admin:
        admin.execute(f"CREATE SCHEMA {schema}")
        try:
            yield make_conninfo(PG_DSN, options=f"-csearch_path={schema}")
        finally:
            admin.execute(f"DROP SCHEMA {schema} CASCADE")


def test_postgres_backend_behind_the_same_commands(
    env: dict[str, str], s3_endpoint: LocalS3Endpoint, pg_schema_dsn: str
) -> None:
    """With search.backend = postgres, seal indexes into PostgreSQL and search gives the same hits."""
    sqlite_env = dict(env)
    _seal(env, s3_endpoint)
    expected = _search(sqlite_env, "会议 OR whatsapp OR from:U0MEI")
    pg_env = {
        **env,
        "CHATKEEPER_SEARCH_BACKEND": "postgres",
        "CHATKEEPER_SEARCH_DSN": pg_schema_dsn,
    }
    indexed = CliRunner().invoke(cli, ["index"], env=pg_env)
    assert "indexed 3 bundle(s), 21 records" in indexed.output, indexed.output
    assert _search(pg_env, "会议 OR whatsapp OR from:U0MEI") == expected
    assert len(expected) == 6
