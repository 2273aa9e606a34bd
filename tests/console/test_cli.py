"""``chatkeeper console``: account commands in-process, and the served console end to end."""

from __future__ import annotations

import asyncio
import threading
from pathlib import Path

import aiohttp
import pytest
from click.testing import CliRunner

from archive.journal.sqlite import SqliteJournal
from archive.model import Kind
from archive.store.local_s3 import LocalS3Endpoint
from chatkeeper.cli import cli
from chatkeeper.commands.console import open_console, serve_console
from chatkeeper.screening import queue_path
from chatkeeper.settings import load_settings
from supervision.review import ItemFilter, list_items
from tests.console.conftest import csrf_of
from tests.factories import slack_message

PASSWORD = "a password for the cli test"


@pytest.fixture
def env(tmp_path: Path, s3_endpoint: LocalS3Endpoint, bucket: str) -> dict[str, str]:
    """Sealing with the archiver; the console reads with the auditor (read-only) identity."""
    return {
        "CHATKEEPER_HOME": str(tmp_path / "home"),
        "CHATKEEPER_S3_ENDPOINT": s3_endpoint.url,
        "CHATKEEPER_S3_BUCKET": bucket,
        "CHATKEEPER_S3_ACCESS_KEY": s3_endpoint.archiver.access_key,
        "CHATKEEPER_S3_SECRET_KEY": s3_endpoint.archiver.secret_key,
        "CHATKEEPER_CONSOLE_S3_ACCESS_KEY": s3_endpoint.auditor.access_key,
        "CHATKEEPER_CONSOLE_S3_SECRET_KEY": s3_endpoint.auditor.secret_key,
        "CHATKEEPER_CONSOLE_PORT": "0",
        "CHATKEEPER_ARCHIVE_RETENTION_DAYS": "1",
        "CHATKEEPER_ARCHIVE_MIN_RETENTION_DAYS": "1",
    }


def test_user_commands(env: dict[str, str]) -> None:
    """add, list, role, disable and enable change the accounts; mistakes exit 2 in one line."""
    runner = CliRunner()
    added = runner.invoke(
        cli,
        ["console", "user", "add", "olivia", "--password-stdin"],
        input=PASSWORD + "\n",
        env=env,
    )
    assert added.exit_code == 0, added.output
    assert "added olivia (officer)" in added.output
    assert (
        runner.invoke(cli, ["console", "user", "role", "olivia", "admin"], env=env).exit_code == 0
    )
    assert runner.invoke(cli, ["console", "user", "disable", "olivia"], env=env).exit_code == 0
    listing = runner.invoke(cli, ["console", "user", "list"], env=env)
    assert "olivia\tadmin\tpassword\tdisabled" in listing.output
    assert runner.invoke(cli, ["console", "user", "enable", "olivia"], env=env).exit_code == 0
    again = runner.invoke(
        cli,
        ["console", "user", "add", "olivia", "--password-stdin"],
        input=PASSWORD + "\n",
        env=env,
    )
    assert again.exit_code == 2
    assert again.output.strip().splitlines()[-1] == "chatkeeper: error: account 'olivia' exists"
    short = runner.invoke(
        cli, ["console", "user", "add", "bob", "--password-stdin"], input="short\n", env=env
    )
    assert short.exit_code == 2 and "at least 12 characters" in short.output
    assert PASSWORD not in listing.output + added.output


def test_served_console_reads_with_the_auditor_and_archives_actions(env: dict[str, str]) -> None:
    """The served console lists what is sealed, reading with the auditor's keys, and its
    sign-in becomes an officer_action record in the journal."""
    runner = CliRunner()
    home = Path(env["CHATKEEPER_HOME"])
    with SqliteJournal(home / "journal.db") as journal:
        journal.append([slack_message(i) for i in range(5)])
    assert runner.invoke(cli, ["seal"], env=env).exit_code == 0
    runner.invoke(
        cli,
        ["console", "user", "add", "olivia", "--password-stdin"],
        input=PASSWORD + "\n",
        env=env,
    )
    settings = load_settings(None, None, env)
    ready: list[int] = []
    stop_box: list[tuple[asyncio.AbstractEventLoop, asyncio.Event]] = []
    started = threading.Event()

    def on_ready(port: int) -> None:
        ready.append(port)
        stop_box.append((asyncio.get_running_loop(), stop))
        started.set()

    stop = asyncio.Event()
    thread = threading.Thread(
        target=serve_console, args=(settings,), kwargs={"stop": stop, "on_ready": on_ready}
    )
    thread.start()
    try:
        assert started.wait(60)
        page = asyncio.run(_sign_in_and_list(ready[0]))
    finally:
        loop, event = stop_box[0] if stop_box else (None, stop)
        if loop is not None:
            loop.call_soon_threadsafe(event.set)
        thread.join(30)
    assert "C0123ABCD" in page
    with SqliteJournal(home / "journal.db") as journal:
        actions = [
            r.details["action"] for r in journal.iter_records() if r.kind is Kind.OFFICER_ACTION
        ]
    assert actions == ["sign_in"]


async def _sign_in_and_list(port: int) -> str:
    base = f"http://127.0.0.1:{port}"
    async with aiohttp.ClientSession(cookie_jar=aiohttp.CookieJar(unsafe=True)) as http:
        async with http.get(f"{base}/login") as answer:
            token = csrf_of(await answer.text())
        async with http.post(
            f"{base}/login", data={"csrf": token, "name": "olivia", "password": PASSWORD}
        ) as answer:
            assert answer.status == 200
            return await answer.text()


POLICY = """
[[policy]]
name = "desk"
version = "1"
lexicons = ["off_channel"]
"""


def test_console_gets_the_review_queue_the_cli_screens(env: dict[str, str], tmp_path: Path) -> None:
    """With a policy configured, the composition root gives the console the queue that
    ``chatkeeper seal`` screened into; without one (and no queue file) there is none."""
    home = Path(env["CHATKEEPER_HOME"])
    with SqliteJournal(home / "journal.db") as journal:
        journal.append([slack_message(0, text="send me the deck")])
    assert CliRunner().invoke(cli, ["seal"], env=env).exit_code == 0
    without = load_settings(None, None, env)
    with open_console(without, 0) as console:
        assert console.queue is None
    (tmp_path / "policies.toml").write_text(POLICY, encoding="utf-8")
    env = env | {"CHATKEEPER_SUPERVISION_POLICY_FILES": str(tmp_path / "policies.toml")}
    with SqliteJournal(home / "journal.db") as journal:
        journal.append([slack_message(1, text="Let's move this to WhatsApp")])
    assert CliRunner().invoke(cli, ["seal"], env=env).exit_code == 0  # screens after the seal
    settings = load_settings(None, None, env)
    with open_console(settings, 0) as console:
        assert console.queue is not None
        assert console.queue.path == queue_path(settings)
        (item,) = list_items(console.queue, ItemFilter(), console.clock.now())
        assert item["policy"] == "desk"
