"""The Slack CLI commands, in-process with CliRunner, against the fake Slack on a loopback thread."""

from __future__ import annotations

import asyncio
import threading
from collections.abc import Iterator
from dataclasses import dataclass, replace
from pathlib import Path

import click
import pytest
from click.testing import CliRunner

import chatkeeper.commands.slack  # noqa: F401 (attaches the Slack commands to the groups)
from archive.journal.sqlite import SqliteJournal
from bots.slack.sandbox import RunningFakeSlack, serve_fake_slack
from chatkeeper.commands.group import backfill_group, completeness_group, import_group
from chatkeeper.settings import Settings
from tests.bots.slack.conftest import PUBLIC, TEAM, sandbox_state, slack_settings
from tests.bots.slack.test_export_import import write_export


@dataclass
class _Obj:
    settings: Settings


def _cli(settings: Settings) -> click.Group:
    @click.group()
    @click.pass_context
    def cli(ctx: click.Context) -> None:
        ctx.obj = _Obj(settings)

    for group in (import_group, backfill_group, completeness_group):
        cli.add_command(group)
    return cli


@pytest.fixture
def fake_thread() -> Iterator[RunningFakeSlack]:
    """The fake Slack served from its own event loop thread (the CLI runs asyncio.run itself)."""
    loop = asyncio.new_event_loop()
    thread = threading.Thread(target=loop.run_forever, daemon=True)
    thread.start()
    fake = asyncio.run_coroutine_threadsafe(serve_fake_slack(sandbox_state()), loop).result(10)
    yield fake
    asyncio.run_coroutine_threadsafe(fake.close(), loop).result(10)
    loop.call_soon_threadsafe(loop.stop)
    thread.join(10)


def test_import_command_is_idempotent(tmp_path: Path) -> None:
    """`import slack-export` reports new messages, then nothing new on a second run."""
    settings = Settings(home=tmp_path / "home")
    path = write_export(tmp_path / "export.zip", {"../evil.json": b"[]"})
    first = CliRunner().invoke(_cli(settings), ["import", "slack-export", str(path)])
    second = CliRunner().invoke(_cli(settings), ["import", "slack-export", str(path)])
    assert first.exit_code == 0, first.output
    assert "5 new, 0 already archived" in first.output and "unsafe path" in first.output
    assert "0 new, 5 already archived" in second.output
    with SqliteJournal(settings.journal_path) as journal:
        assert len(list(journal.iter_records())) == 5


def test_import_command_names_the_skipped_telegram_chats(tmp_path: Path) -> None:
    """A chatkeeper export mixing Telegram chats: the CLI says which it skipped, and why."""
    from tests.exporters.export_fixtures import run

    run("slack", tmp_path / "out")
    settings = Settings(home=tmp_path / "home")
    path = tmp_path / "out" / "slack-export.zip"
    result = CliRunner().invoke(_cli(settings), ["import", "slack-export", str(path)])
    assert result.exit_code == 0, result.output
    assert (
        "skipped conversation 'Desk Chat 🇫🇷': a telegram conversation exported by chatkeeper,"
        " not a Slack one; not imported"
    ) in result.output


def test_backfill_and_completeness_commands(tmp_path: Path, fake_thread: RunningFakeSlack) -> None:
    """`backfill slack` stores history; `completeness slack` then finds nothing missing."""
    fake_thread.state.history[PUBLIC] = [
        {"type": "message", "user": "U0ALICE01", "text": f"m{n}", "ts": f"17644{n:05d}.000100"}
        for n in range(3)
    ]
    settings = Settings(
        home=tmp_path / "home",
        slack=replace(slack_settings(fake_thread), backfill_requests_per_minute=6000),
    )
    cli = _cli(settings)
    backfill = CliRunner().invoke(
        cli, ["backfill", "slack", "--channel", PUBLIC, "--since", "2025-11-01"]
    )
    assert backfill.exit_code == 0, backfill.output
    assert f"{PUBLIC}: 3 messages fetched, 3 new" in backfill.output
    report = CliRunner().invoke(
        cli, ["completeness", "slack", "--channel", PUBLIC, "--since", "2025-11-01", "--team", TEAM]
    )
    assert report.exit_code == 0, report.output
    assert "recovered now (missed live): 0" in report.output
    assert "deleted while not capturing (not in history): 0" in report.output
    assert [c.method for c in fake_thread.state.calls].count("auth.test") == 1


def test_completeness_with_no_captured_conversation_says_so(
    tmp_path: Path, fake_thread: RunningFakeSlack
) -> None:
    """`completeness slack` with capture on nowhere says there is nothing to reconcile."""
    settings = Settings(home=tmp_path / "home", slack=slack_settings(fake_thread))
    report = CliRunner().invoke(_cli(settings), ["completeness", "slack"])
    assert report.exit_code == 0, report.output
    assert "no Slack conversation has capture turned on: nothing to reconcile" in report.output
    assert "conversations.history" not in [c.method for c in fake_thread.state.calls]
