"""``chatkeeper review`` in-process against a sealed archive on SeaweedFS."""

from __future__ import annotations

import csv
import json
from pathlib import Path

import pytest
from click.testing import CliRunner

from archive.journal.sqlite import SqliteJournal
from archive.store.local_s3 import LocalS3Endpoint
from chatkeeper import build
from chatkeeper.cli import cli
from chatkeeper.screening import after_seal_hooks
from chatkeeper.settings import load_settings
from tests.factories import slack_message

POLICY = """
[[policy]]
name = "desk"
version = "2"
lexicons = ["off_channel", "promissory", "complaints"]
review_within_days = 1
[policy.sampling]
rate = 0.05
seed = "cli-test"
"""
TEXTS = [
    "Let's move this to WhatsApp",
    "Garantierte Rendite, risikolos",
    "I want to file a complaint",
    "the buy signal is strong",
    "send me the deck",
]


@pytest.fixture
def env(tmp_path: Path, s3_endpoint: LocalS3Endpoint, bucket: str) -> dict[str, str]:
    """Messages captured and sealed by the CLI (no policy yet); then a policy file configured."""
    (tmp_path / "policies.toml").write_text(POLICY, encoding="utf-8")
    values = {
        "CHATKEEPER_HOME": str(tmp_path / "home"),
        "CHATKEEPER_S3_ENDPOINT": s3_endpoint.url,
        "CHATKEEPER_S3_BUCKET": bucket,
        "CHATKEEPER_S3_ACCESS_KEY": s3_endpoint.archiver.access_key,
        "CHATKEEPER_S3_SECRET_KEY": s3_endpoint.archiver.secret_key,
        "CHATKEEPER_ARCHIVE_RETENTION_DAYS": "1",
        "CHATKEEPER_ARCHIVE_MIN_RETENTION_DAYS": "1",
        "CHATKEEPER_SUPERVISION_REVIEWER": "officer-1",
    }
    with SqliteJournal(tmp_path / "home" / "journal.db") as journal:
        journal.append([slack_message(n, text=t) for n, t in enumerate(TEXTS)])
    sealed = CliRunner().invoke(cli, ["seal"], env=values)
    assert sealed.exit_code == 0, sealed.output
    return values | {"CHATKEEPER_SUPERVISION_POLICY_FILES": str(tmp_path / "policies.toml")}


def _run(env: dict[str, str], *args: str) -> str:
    result = CliRunner().invoke(cli, ["review", *args], env=env)
    assert result.exit_code == 0, result.output
    return result.output


def _ids(env: dict[str, str], *args: str) -> list[str]:
    return [json.loads(line)["id"] for line in _run(env, "list", "--json", *args).splitlines()]


def test_screen_list_show_decide_report(env: dict[str, str], tmp_path: Path) -> None:
    """The whole review workflow from the command line, decisions sealed by the next seal."""
    assert "screened bundles 1..1: 5 records" in _run(env, "screen")
    assert "nothing new to screen" in _run(env, "screen")
    listing = _run(env, "list")
    assert "3 item(s)" in listing and "WhatsApp" not in listing  # no message text in lists
    whatsapp, rendite, complaint = _ids(env)
    assert _ids(env, "--rule", "whatsapp") == [whatsapp]
    shown = _run(env, "show", whatsapp)
    assert "Let's move this to [[WhatsApp]]" in shown and "off_channel/whatsapp" in shown
    _run(env, "decide", whatsapp, "--decision", "escalated", "--comment", "asked the desk head")
    _run(env, "assign", complaint, "--to", "officer-2")
    assert _ids(env, "--assignee", "officer-2") == [complaint]
    assert "not sealed yet" in _run(env, "show", whatsapp)
    assert CliRunner().invoke(cli, ["seal"], env=env).exit_code == 0  # and screens bundle 2
    assert "sealed in bundle 2" in _run(env, "show", whatsapp)
    assert _ids(env) == [rendite, complaint]
    day = json.loads(_run(env, "list", "--json", "--status", "all").splitlines()[0])
    out = _run(
        env, "report", "--from", day["occurred_at"][:10], "--to", day["occurred_at"][:10],
        "--csv", str(tmp_path / "r.csv"),
    )  # fmt: skip
    assert "in_scope: 5" in out and "flagged: 3" in out and "decisions_escalated: 1" in out
    assert "reviewer officer-1: escalated 1" in out
    (row,) = csv.DictReader((tmp_path / "r.csv").open(encoding="utf-8"))
    assert (row["reviewed"], row["open"], row["versions"]) == ("1", "2", "2")


def test_bulk_clear_with_reason(env: dict[str, str]) -> None:
    """clear needs a filter and a reason, counts on --dry-run, and clears only matches."""
    _run(env, "screen")
    refused = CliRunner().invoke(cli, ["review", "clear", "--reason", "x"], env=env)
    assert refused.exit_code == 2 and "needs --policy or --rule" in refused.output
    assert "1 open item(s) match" in _run(
        env, "clear", "--rule", "complaint", "--reason", "r", "--dry-run"
    )
    assert "cleared 1 item(s)" in _run(
        env, "clear", "--rule", "complaint", "--reason", "test phrase in a training chat"
    )
    assert len(_ids(env)) == 2
    (cleared,) = _ids(env, "--status", "decided")
    assert "test phrase in a training chat" in _run(env, "show", cleared)


def test_review_errors_are_one_line(env: dict[str, str]) -> None:
    """Unknown items, missing policies and bad dates fail with one line and exit 2."""
    for args, extra, message in [
        (["show", "nope"], {}, "no review item 'nope'"),
        (["screen"], {"CHATKEEPER_SUPERVISION_POLICY_FILES": ""}, "no supervision policy"),
        (["report", "--from", "yesterday", "--to", "2026-01-01"], {}, "YYYY-MM-DD"),
        (["list", "--older-than", "soon"], {}, "--older-than 'soon'"),
    ]:
        result = CliRunner().invoke(cli, ["review", *args], env={**env, **extra})
        assert result.exit_code == 2, result.output
        (line,) = result.output.strip().splitlines()
        assert line.startswith("chatkeeper: error: ") and message in line


def test_policies_command_shows_hash(env: dict[str, str]) -> None:
    """review policies prints each policy with version, hash and sampling rate."""
    out = _run(env, "policies")
    assert out.startswith("desk v2 hash ") and "sampling: 0.05" in out


def test_list_json_holds_no_message_text(env: dict[str, str]) -> None:
    """review list --json gives ids, rules and positions, never the message or its context."""
    _run(env, "screen")
    out = _run(env, "list", "--json")
    assert "WhatsApp" not in out and "Rendite" not in out and "complaint" in out
    first = json.loads(out.splitlines()[0])
    assert first["rules"] == ["whatsapp"] and set(first["hits"][0]) == {
        "lexicon", "rule", "start", "end"
    }  # fmt: skip


def test_after_seal_hooks_built_from_settings(env: dict[str, str], tmp_path: Path) -> None:
    """after_seal_hooks builds the screening hook from settings, and none without a policy."""
    settings = load_settings(env=env)
    with build.open_store(settings) as store, after_seal_hooks(settings, store) as hooks:
        (hook,) = hooks
        report = hook.screen()
    assert report is not None and (report.bundles, report.items) == ([1], 3)
    assert "nothing new to screen" in _run(env, "screen")
    unconfigured = load_settings(env={**env, "CHATKEEPER_SUPERVISION_POLICY_FILES": ""})
    with build.open_store(unconfigured) as store, after_seal_hooks(unconfigured, store) as none:
        assert none == ()


def test_seal_command_screens_what_it_sealed(env: dict[str, str], tmp_path: Path) -> None:
    """chatkeeper seal with a policy configured queues review items with no review screen."""
    with SqliteJournal(tmp_path / "home" / "journal.db") as journal:
        journal.append([slack_message(40, text="text me on my cell")])
    sealed = CliRunner().invoke(cli, ["seal"], env=env)
    assert sealed.exit_code == 0 and "sealed bundle 2" in sealed.output, sealed.output
    assert len(_ids(env)) == 4  # the three of bundle 1, caught up, and the new one
    assert "nothing new to screen" in _run(env, "screen")


def test_decisions_verify_and_export_in_every_format(env: dict[str, str], tmp_path: Path) -> None:
    """Sealed review_decision records verify intact and every export format reads them."""
    _run(env, "screen")
    _run(env, "decide", *_ids(env), "--decision", "cleared", "--comment", "reviewed")
    runner = CliRunner()
    assert runner.invoke(cli, ["seal"], env=env).exit_code == 0
    verified = runner.invoke(cli, ["verify"], env=env)
    assert verified.exit_code == 0 and "INTACT" in verified.output, verified.output
    for fmt in ("rsmf", "eml", "html", "slack", "jsonl", "csv"):
        result = runner.invoke(
            cli, ["export", "--format", fmt, "--out", str(tmp_path / fmt)], env=env
        )
        assert result.exit_code == 0, (fmt, result.output)
    lines = (tmp_path / "jsonl" / "records.jsonl").read_text("utf-8").splitlines()
    kinds = [json.loads(x)["record"]["kind"] for x in lines]
    assert kinds.count("review_decision") == 3
