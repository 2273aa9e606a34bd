"""``chatkeeper verify`` trust anchors, exit codes and ``chatkeeper keys`` through the CLI."""

from __future__ import annotations

import json
import os
from collections.abc import Iterator
from datetime import UTC, datetime
from pathlib import Path
from typing import Any
from unittest import mock

import pytest
from botocore.exceptions import ClientError
from click.testing import CliRunner

from archive.bundle import Layout, parse_manifest, sign_manifest
from archive.clock import FixedClock
from archive.journal.sqlite import SqliteJournal
from archive.keys import load_or_create_signer
from archive.schedule import LEASE
from archive.store.s3 import S3ArchiveStore, make_client
from chatkeeper.cli import cli
from tests.archive.test_verify import _other_store, copy_stream
from tests.factories import slack_message

PG_DSN = os.environ.get("CHATKEEPER_TEST_PG_DSN", "")


def _sealed(env: dict[str, str], count: int = 60) -> None:
    with SqliteJournal(Path(env["CHATKEEPER_HOME"]) / "journal.db") as journal:
        journal.append([slack_message(i) for i in range(count)])
    result = CliRunner().invoke(cli, ["seal"], env=env)
    assert result.exit_code == 0, result.output


def _officer(env: dict[str, str], tmp_path: Path, **extra: str) -> dict[str, str]:
    """The same bucket seen from an officer's machine: no journal, no keys."""
    return {**env, "CHATKEEPER_HOME": str(tmp_path / "officer"), **extra}


def _fingerprint(env: dict[str, str]) -> str:
    return load_or_create_signer(Path(env["CHATKEEPER_HOME"]) / "keys").public.fingerprint


def test_verify_without_a_pin_refuses_to_say_intact(env: dict[str, str], tmp_path: Path) -> None:
    """With no pinned key, verify exits 3 and shows the published fingerprint and how to pin it."""
    _sealed(env)
    result = CliRunner().invoke(cli, ["verify"], env=_officer(env, tmp_path))
    assert result.exit_code == 3, result.output
    assert "INTACT" not in result.output
    fingerprint = _fingerprint(env)
    assert f"--key-fingerprint {fingerprint}" in result.output
    assert "archive.trusted_keys" in result.output
    assert len(result.output.strip().splitlines()) == 1


def test_stream_resigned_by_an_attacker_is_not_intact(
    env: dict[str, str], tmp_path: Path, local_s3: object, s3_endpoint: Any
) -> None:
    """A copy re-signed and re-published under an attacker's key is refused without a pin."""
    _sealed(env)
    creds = s3_endpoint.archiver
    source = S3ArchiveStore(
        make_client(s3_endpoint.url, creds.access_key, creds.secret_key),
        env["CHATKEEPER_S3_BUCKET"],
    )
    forger = load_or_create_signer(tmp_path / "forger")
    layout = Layout("main")

    def forge(key: str, data: bytes) -> bytes | None:
        if key.startswith(layout.keys_prefix):
            return None
        if key.endswith("manifest.json"):
            doc = parse_manifest(data)
            doc.pop("signature")
            return sign_manifest(doc, forger)
        return data

    copy = _other_store(source, local_s3)
    from datetime import UTC, datetime

    copy_stream(source, copy, forge, FixedClock(datetime.now(UTC)))
    from archive.seal import SealPolicy, publish_key

    publish_key(copy, forger, SealPolicy(layout, retention_days=1), FixedClock(datetime.now(UTC)))
    officer = _officer(env, tmp_path, CHATKEEPER_S3_BUCKET=copy.bucket)
    refused = CliRunner().invoke(cli, ["verify"], env=officer)
    assert refused.exit_code == 3 and forger.public.fingerprint in refused.output
    pinned = CliRunner().invoke(
        cli, ["verify", "--key-fingerprint", _fingerprint(env)], env=officer
    )
    assert pinned.exit_code == 3 and "matches no key published" in pinned.output


def test_fingerprint_pins_from_option_and_setting(env: dict[str, str], tmp_path: Path) -> None:
    """--key-fingerprint and archive.trusted_keys both pin the key: exit 0 and the anchor is named."""
    _sealed(env)
    fingerprint = _fingerprint(env)
    by_option = CliRunner().invoke(
        cli, ["verify", "--json", "--key-fingerprint", fingerprint], env=_officer(env, tmp_path)
    )
    assert by_option.exit_code == 0, by_option.output
    report = json.loads(by_option.output)
    assert "--key-fingerprint" in report["trust"]
    assert report["trusted_keys"][0]["fingerprint"] == fingerprint
    by_setting = CliRunner().invoke(
        cli,
        ["verify", "--json"],
        env=_officer(env, tmp_path, CHATKEEPER_ARCHIVE_TRUSTED_KEYS=fingerprint),
    )
    assert by_setting.exit_code == 0, by_setting.output
    assert "archive.trusted_keys" in json.loads(by_setting.output)["trust"]


def test_short_key_id_is_not_a_pin(env: dict[str, str], tmp_path: Path) -> None:
    """A 16-digit key id given as a fingerprint is a usage error (exit 2)."""
    _sealed(env)
    key_id = _fingerprint(env)[:16]
    result = CliRunner().invoke(
        cli, ["verify", "--key-fingerprint", key_id], env=_officer(env, tmp_path)
    )
    assert result.exit_code == 2 and "64 hex digits" in result.output


def test_corrupt_object_makes_verify_exit_3_not_1(env: dict[str, str]) -> None:
    """A records object the store answers InternalError for is one bundle's failure: exit 3."""
    _sealed(env, count=100)
    from botocore.client import BaseClient

    real = BaseClient._make_api_call

    def call(self: Any, operation: str, params: dict[str, Any]) -> Any:
        if operation == "GetObject" and params["Key"].endswith("0000000002/records.jsonl.zst"):
            raise ClientError({"Error": {"Code": "InternalError", "Message": "x"}}, operation)
        return real(self, operation, params)

    with mock.patch.object(BaseClient, "_make_api_call", call):
        result = CliRunner().invoke(cli, ["verify"], env=env)
    assert result.exit_code == 3, result.output
    assert "bundle 2 [read] records object: the store failed to read it" in result.output
    assert result.output.count(" ! ") == 1 and "bundles checked: 3" in result.output


def test_verify_store_unreachable_exit_4(env: dict[str, str]) -> None:
    """A store that cannot be reached at all is still exit 4."""
    _sealed(env, count=1)
    down = {
        **env,
        "CHATKEEPER_S3_ENDPOINT": "http://127.0.0.1:9",
        "CHATKEEPER_S3_MAX_ATTEMPTS": "1",
        "CHATKEEPER_S3_CONNECT_TIMEOUT_SECONDS": "0.2",
    }
    assert CliRunner().invoke(cli, ["verify"], env=down).exit_code == 4


def test_keys_show_rotate_and_verify_by_the_first_key(env: dict[str, str], tmp_path: Path) -> None:
    """keys rotate switches the signing key; an officer pinning the old key file follows it."""
    _sealed(env)
    runner = CliRunner()
    shown = runner.invoke(cli, ["keys", "show"], env=env)
    assert shown.exit_code == 0 and _fingerprint(env) in shown.output
    old_file = tmp_path / "old.pub.json"
    home_keys = Path(env["CHATKEEPER_HOME"]) / "keys"
    old_file.write_bytes(next(home_keys.glob("*.pub.json")).read_bytes())
    rotated = runner.invoke(cli, ["keys", "rotate"], env=env)
    assert rotated.exit_code == 0, rotated.output
    new = load_or_create_signer(home_keys).public
    assert f"new fingerprint: {new.fingerprint}" in rotated.output
    _sealed(env, count=90)  # bundle 4 under the new key
    verify = runner.invoke(
        cli, ["verify", "--json", "--public-key", str(old_file)], env=_officer(env, tmp_path)
    )
    assert verify.exit_code == 0, verify.output
    report = json.loads(verify.output)
    assert {k["fingerprint"] for k in report["trusted_keys"]} >= {new.fingerprint}
    assert report["rotations"][0]["new"] == new.key_id
    assert "earlier key:" in runner.invoke(cli, ["keys", "show"], env=env).output


@pytest.fixture(params=["sqlite", "postgres"])
def journal_env(request: pytest.FixtureRequest, env: dict[str, str]) -> Iterator[dict[str, str]]:
    """The CLI env with a SQLite journal, or with a PostgreSQL journal in its own schema."""
    if request.param == "sqlite":
        yield env
        return
    if not PG_DSN:
        pytest.skip("CHATKEEPER_TEST_PG_DSN is not set")
    import secrets

    import psycopg
    from psycopg.conninfo import make_conninfo

    schema = f"ck_test_{secrets.token_hex(6)}"
    with psycopg.connect(PG_DSN, autocommit=True) as admin:
        admin.execute(f"CREATE SCHEMA {schema}")
        try:
            dsn = make_conninfo(PG_DSN, options=f"-csearch_path={schema}")
            yield {**env, "CHATKEEPER_JOURNAL_DSN": dsn}
        finally:
            admin.execute(f"DROP SCHEMA {schema} CASCADE")


def test_verify_checks_the_journal_for_truncation(
    journal_env: dict[str, str], local_s3: object, s3_endpoint: Any
) -> None:
    """Against either journal, verify reports bundles the journal sealed but the store lacks."""
    from archive.journal.postgres import PostgresJournal

    dsn = journal_env.get("CHATKEEPER_JOURNAL_DSN")
    journal = (
        PostgresJournal(dsn)
        if dsn
        else SqliteJournal(Path(journal_env["CHATKEEPER_HOME"]) / "journal.db")
    )
    with journal:
        journal.append([slack_message(i) for i in range(60)])
    assert CliRunner().invoke(cli, ["seal"], env=journal_env).exit_code == 0
    creds = s3_endpoint.archiver
    source = S3ArchiveStore(
        make_client(s3_endpoint.url, creds.access_key, creds.secret_key),
        journal_env["CHATKEEPER_S3_BUCKET"],
    )
    from datetime import UTC, datetime

    copy = _other_store(source, local_s3)
    copy_stream(
        source,
        copy,
        lambda k, d: None if "/bundles/0000000002/" in k or "/checkpoints/" in k else d,
        FixedClock(datetime.now(UTC)),
    )
    result = CliRunner().invoke(
        cli, ["verify"], env={**journal_env, "CHATKEEPER_S3_BUCKET": copy.bucket}
    )
    assert result.exit_code == 3
    assert "bundles 2..2 are missing from the store" in result.output, result.output


def test_every_export_format_reads_a_stream_with_a_key_rotation(
    env: dict[str, str], tmp_path: Path
) -> None:
    """A key_rotated record (platform chatkeeper) does not break any export format."""
    _sealed(env)
    runner = CliRunner()
    assert runner.invoke(cli, ["keys", "rotate"], env=env).exit_code == 0
    _sealed(env, count=90)
    for fmt in ("rsmf", "eml", "html", "slack", "jsonl", "csv"):
        result = runner.invoke(
            cli, ["export", "--format", fmt, "--out", str(tmp_path / fmt)], env=env
        )
        assert result.exit_code == 0, (fmt, result.output)
        assert "from bundles 1-4" in result.output


def test_seal_with_nothing_new_still_seals_the_first_checkpoint(env: dict[str, str]) -> None:
    """An idle deployment's seal writes a checkpoint when none exists, and not again at once."""
    runner = CliRunner()
    first = runner.invoke(cli, ["seal"], env=env)
    assert first.exit_code == 0, first.output
    assert "nothing to seal" in first.output
    assert "sealed checkpoint 1 (last bundle none)" in first.output
    again = runner.invoke(cli, ["seal"], env=env)
    assert again.exit_code == 0 and "checkpoint" not in again.output
    verify = runner.invoke(cli, ["verify"], env=env)
    assert verify.exit_code == 0 and "INTACT" in verify.output, verify.output


def test_seal_refuses_while_another_sealer_holds_the_lease(env: dict[str, str]) -> None:
    """`chatkeeper seal` beside a running sealer exits 1 and writes nothing; after it, it seals."""
    home = Path(env["CHATKEEPER_HOME"])
    with SqliteJournal(home / "journal.db") as journal:
        journal.append([slack_message(i) for i in range(3)])
        assert journal.acquire_lease(LEASE, "serve-elsewhere", datetime.now(UTC), 60.0)
        busy = CliRunner().invoke(cli, ["seal"], env=env)
        assert busy.exit_code == 1
        assert "another sealer holds the sealing lease" in busy.output
        assert journal.stats("main").last_sealed is None
        journal.release_lease(LEASE, "serve-elsewhere")
    done = CliRunner().invoke(cli, ["seal"], env=env)
    assert done.exit_code == 0, done.output
    assert "sealed bundle 1" in done.output


def test_verify_incremental_checks_only_what_was_sealed_since(env: dict[str, str]) -> None:
    """The first --incremental run checks all and keeps a signed state; the next only new bundles."""
    _sealed(env)
    first = CliRunner().invoke(cli, ["verify", "--incremental"], env=env)
    assert first.exit_code == 0, first.output
    assert "bundles checked: 2" in first.output
    state = Path(env["CHATKEEPER_HOME"]) / "verify" / "main.state.json"
    assert json.loads(state.read_bytes())["last_bundle"] == 2
    with SqliteJournal(Path(env["CHATKEEPER_HOME"]) / "journal.db") as journal:
        journal.append([slack_message(i) for i in range(100, 130)])
    assert CliRunner().invoke(cli, ["seal"], env=env).exit_code == 0
    second = CliRunner().invoke(cli, ["verify", "--incremental"], env=env)
    assert second.exit_code == 0, second.output
    assert "incremental: bundles after 2" in second.output
    assert "bundles checked: 1 (last 3)" in second.output
    assert "records checked: 30" in second.output
    assert json.loads(state.read_bytes())["last_bundle"] == 3
    state.write_bytes(state.read_bytes().replace(b'"last_bundle":3', b'"last_bundle":2'))
    refused = CliRunner().invoke(cli, ["verify", "--incremental"], env=env)
    assert refused.exit_code == 3, refused.output
    assert "not trusted" in refused.output
