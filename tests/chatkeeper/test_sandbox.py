"""`chatkeeper sandbox` runs serve against the fakes; `sandbox post` delivers as a person."""

from __future__ import annotations

import asyncio
import json
from pathlib import Path

from click.testing import CliRunner

from archive.journal.sqlite import SqliteJournal
from archive.model import Kind, Platform
from archive.store.local_s3 import LocalS3Endpoint
from chatkeeper.cli import cli
from chatkeeper.sandbox import STATE_FILE, run_sandbox, slack_user_id, telegram_user_id
from chatkeeper.settings import load_settings
from tests.chatkeeper.test_metrics import base_env


async def test_sandbox_serves_and_post_delivers_on_both_platforms(
    tmp_path: Path, s3_endpoint: LocalS3Endpoint, bucket: str
) -> None:
    """A Slack and a Telegram post through `sandbox post` are acknowledged and journaled."""
    env = base_env(tmp_path / "home", s3_endpoint, bucket)
    settings = load_settings(env=env)
    lines: list[str] = []
    stop = asyncio.Event()
    running = asyncio.create_task(run_sandbox(settings, lines.append, stop=stop))
    state = settings.home / STATE_FILE
    for _ in range(300):
        if state.exists() or running.done():
            break
        await asyncio.sleep(0.05)
    assert state.exists(), running.exception() if running.done() else lines
    assert state.stat().st_mode & 0o077 == 0
    assert any("sandbox post --platform slack" in line for line in lines)
    serve_url = json.loads(state.read_text())["serve_url"]
    assert any(serve_url in line for line in lines)
    runner = CliRunner()
    slack = await asyncio.to_thread(
        runner.invoke,
        cli,
        ["sandbox", "post", "--platform", "slack", "--user", "alice", "quarterly figures"],
        env=env,
    )
    telegram = await asyncio.to_thread(
        runner.invoke,
        cli,
        ["sandbox", "post", "--platform", "telegram", "--user", "bob", "hello desk"],
        env=env,
    )
    stop.set()
    await asyncio.wait_for(running, 60)
    assert slack.exit_code == 0, slack.output
    assert slack.stdout.startswith("slack: acknowledged (HTTP 200)")
    assert telegram.exit_code == 0, telegram.output
    assert telegram.stdout.startswith("telegram: acknowledged")
    for output in (slack.output, telegram.output):
        assert "quarterly" not in output and "hello desk" not in output
    assert not state.exists()
    with SqliteJournal(settings.journal_path) as journal:
        messages = [r for r in journal.iter_records() if r.kind is Kind.MESSAGE]
    by_platform = {r.platform: r for r in messages}
    assert by_platform[Platform.SLACK].text == "quarterly figures"
    assert by_platform[Platform.SLACK].actor.id == slack_user_id("alice")
    assert by_platform[Platform.TELEGRAM].text == "hello desk"
    assert by_platform[Platform.TELEGRAM].actor.id == str(telegram_user_id("bob"))


def test_sandbox_post_without_a_running_sandbox_is_one_error_line(tmp_path: Path) -> None:
    """With no sandbox for the state directory, `sandbox post` exits 1 with one line."""
    result = CliRunner().invoke(
        cli,
        ["--home", str(tmp_path), "sandbox", "post", "--platform", "slack", "--user", "a", "x"],
    )
    assert result.exit_code == 1
    assert result.output.strip().splitlines() == [
        f"chatkeeper: error: no sandbox is running for {tmp_path} "
        "(start `chatkeeper sandbox` first)"
    ]
