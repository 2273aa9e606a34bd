"""The chatkeeper CLI in-process (click's CliRunner) against the real SeaweedFS."""

from __future__ import annotations

import json
from pathlib import Path

import pytest
from click.testing import CliRunner

from archive.journal.sqlite import SqliteJournal
from chatkeeper.cli import cli
from tests.factories import slack_message


def _journal(env: dict[str, str]) -> SqliteJournal:
    return SqliteJournal(Path(env["CHATKEEPER_HOME"]) / "journal.db")


def test_seal_status_verify(env: dict[str, str]) -> None:
    """seal writes bundles, status reports them, verify says intact with exit 0."""
    with _journal(env) as journal:
        journal.append([slack_message(i) for i in range(100)])
    runner = CliRunner()
    status = runner.invoke(cli, ["status", "--json"], env=env)
    assert status.exit_code == 0, status.output
    assert json.loads(status.output)["backlog"] == 100
    sealed = runner.invoke(cli, ["seal"], env=env)
    assert sealed.exit_code == 0, sealed.output
    assert sealed.output.count("sealed bundle") == 3
    status = json.loads(runner.invoke(cli, ["status", "--json"], env=env).output)
    assert status["backlog"] == 0 and status["last_bundle"]["number"] == 3
    verify = runner.invoke(cli, ["verify", "--json"], env=env)
    assert verify.exit_code == 0, verify.output
    report = json.loads(verify.output)
    assert report["ok"] and report["records"] == 100 and report["trust"].startswith("trusted keys")


def test_verify_with_foreign_key_fails_with_exit_3(env: dict[str, str], tmp_path: Path) -> None:
    """Verifying with a public key that did not sign the stream is an integrity failure (exit 3)."""
    from archive.keys import load_or_create_signer

    with _journal(env) as journal:
        journal.append([slack_message(1)])
    runner = CliRunner()
    assert runner.invoke(cli, ["seal"], env=env).exit_code == 0
    other = load_or_create_signer(tmp_path / "other")
    result = runner.invoke(
        cli,
        ["verify", "--public-key", str(tmp_path / "other" / f"{other.public.key_id}.pub.json")],
        env=env,
    )
    assert result.exit_code == 3
    assert "untrusted key" in result.output


def test_unreachable_store_exit_4_keeps_records(env: dict[str, str]) -> None:
    """With S3 unreachable, seal exits 4 and the records stay unsealed in the journal."""
    with _journal(env) as journal:
        journal.append([slack_message(1)])
    down = {
        **env,
        "CHATKEEPER_S3_ENDPOINT": "http://127.0.0.1:9",
        "CHATKEEPER_S3_MAX_ATTEMPTS": "2",
        "CHATKEEPER_S3_CONNECT_TIMEOUT_SECONDS": "0.2",
    }
    result = CliRunner().invoke(cli, ["seal"], env=down)
    assert result.exit_code == 4
    assert "S3 unavailable" in result.output
    with _journal(env) as journal:
        assert journal.stats("main").unsealed == 1


def test_corrupt_config_exit_2(tmp_path: Path) -> None:
    """A corrupt config file is reported in one line with exit code 2."""
    bad = tmp_path / "bad.toml"
    bad.write_text("[archive\n")
    result = CliRunner().invoke(
        cli, ["--config", str(bad), "status"], env={"CHATKEEPER_HOME": str(tmp_path)}
    )
    assert result.exit_code == 2
    assert "not valid TOML" in result.output


def test_demo_on_embedded_defaults(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    """The README's main job: demo starts its own SeaweedFS, captures, seals and verifies."""
    monkeypatch.chdir(tmp_path)
    result = CliRunner().invoke(cli, ["demo"], env={"CHATKEEPER_HOME": str(tmp_path / "state")})
    assert result.exit_code == 0, result.output
    assert "captured 10 events through the capture API" in result.output
    assert "slack: 8/8 deliveries acked after commit" in result.output
    assert "slack: attachments stored" in result.output
    assert "telegram: the real bot (webhook mode)" in result.output
    assert "archiving turned on by an admin: yes" in result.output
    assert "verify --deep: INTACT (1 bundles, 28 records)" in result.output
    again = CliRunner().invoke(cli, ["demo"], env={"CHATKEEPER_HOME": str(tmp_path / "state")})
    assert again.exit_code == 0, again.output
    assert "nothing new to seal" in again.output  # the demo stores nothing twice
    assert "verify --deep: INTACT (1 bundles, 28 records)" in again.output
    assert not (tmp_path / "state" / "s3" / "endpoint.json").exists()
