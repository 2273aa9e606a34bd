"""`chatkeeper serve` start-up failures: one error line, no secret, nothing left running."""

from __future__ import annotations

import asyncio
import logging
import socket
import threading
from collections.abc import Iterator
from pathlib import Path

import pytest
from click.testing import CliRunner

from archive.errors import ConfigError, ListenError
from archive.store.local_s3 import LocalS3Endpoint
from bots.slack.sandbox import RunningFakeSlack, serve_fake_slack
from bots.telegram.sandbox.fake_api import FakeBotApi
from chatkeeper.cli import cli
from chatkeeper.serve import serve
from chatkeeper.settings import load_settings
from tests.bots.slack.conftest import sandbox_state
from tests.bots.telegram.conftest import TOKEN

WRONG_TOKEN = "7001234567:AAF-WRONG-secret-part-never-printed_q"


@pytest.fixture
def loop_thread() -> Iterator[asyncio.AbstractEventLoop]:
    """An event loop on its own thread for the fakes (the CLI runs asyncio.run itself)."""
    loop = asyncio.new_event_loop()
    thread = threading.Thread(target=loop.run_forever, daemon=True)
    thread.start()
    yield loop
    loop.call_soon_threadsafe(loop.stop)
    thread.join(10)


def _free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return int(sock.getsockname()[1])


def _base_env(home: Path, endpoint: LocalS3Endpoint, bucket: str, port: int) -> dict[str, str]:
    return {
        "CHATKEEPER_HOME": str(home),
        "CHATKEEPER_S3_ENDPOINT": endpoint.url,
        "CHATKEEPER_S3_BUCKET": bucket,
        "CHATKEEPER_S3_ACCESS_KEY": endpoint.archiver.access_key,
        "CHATKEEPER_S3_SECRET_KEY": endpoint.archiver.secret_key,
        "CHATKEEPER_ARCHIVE_RETENTION_DAYS": "1",
        "CHATKEEPER_ARCHIVE_MIN_RETENTION_DAYS": "1",
        "CHATKEEPER_SERVER_PORT": str(port),
        "CHATKEEPER_LOG_LEVEL": "debug",
        "CHATKEEPER_LOG_FORMAT": "json",
    }


def _nothing_running(port: int) -> None:
    assert not [t for t in threading.enumerate() if t.name.startswith("APScheduler")]
    with socket.socket() as sock:  # the HTTP server released its port
        sock.bind(("127.0.0.1", port))


def test_rejected_telegram_token_is_one_line_without_the_token(
    tmp_path: Path,
    s3_endpoint: LocalS3Endpoint,
    bucket: str,
    loop_thread: asyncio.AbstractEventLoop,
    caplog: pytest.LogCaptureFixture,
) -> None:
    """getMe answering 401: exit 2, one error line, no token or traceback at DEBUG, nothing left."""
    caplog.set_level(logging.DEBUG)
    fake = asyncio.run_coroutine_threadsafe(FakeBotApi(TOKEN).start(), loop_thread).result(10)
    port = _free_port()
    env = {
        **_base_env(tmp_path / "home", s3_endpoint, bucket, port),
        "CHATKEEPER_TELEGRAM_TOKEN": WRONG_TOKEN,
        "CHATKEEPER_TELEGRAM_BASE_URL": fake.base_url,
        "CHATKEEPER_TELEGRAM_BASE_FILE_URL": fake.base_file_url,
    }
    try:
        result = CliRunner().invoke(cli, ["serve"], env=env)
    finally:
        asyncio.run_coroutine_threadsafe(fake.stop(), loop_thread).result(10)
    text = result.output + caplog.text
    assert result.exit_code == 2, result.output
    assert result.output.strip().splitlines()[-1] == (
        "chatkeeper: error: telegram.token was rejected by the Bot API (Unauthorized)"
    )
    assert result.output.count("chatkeeper: error:") == 1
    assert "Traceback" not in text
    assert WRONG_TOKEN not in text and WRONG_TOKEN.partition(":")[2] not in text
    assert [method for method, _ in fake.state.requests] == []  # 401 before any method ran
    _nothing_running(port)


def test_failing_slack_auth_test_is_one_line_without_the_token(
    tmp_path: Path,
    s3_endpoint: LocalS3Endpoint,
    bucket: str,
    loop_thread: asyncio.AbstractEventLoop,
    caplog: pytest.LogCaptureFixture,
) -> None:
    """auth.test refusing the bot token: exit 2, one line naming slack.bot_token, nothing left."""
    caplog.set_level(logging.DEBUG)
    fake: RunningFakeSlack = asyncio.run_coroutine_threadsafe(
        serve_fake_slack(sandbox_state()), loop_thread
    ).result(10)
    port = _free_port()
    bad_token = "xoxb-revoked-0000-secret-value"
    env = {
        **_base_env(tmp_path / "home", s3_endpoint, bucket, port),
        "CHATKEEPER_SLACK_ENABLED": "true",
        "CHATKEEPER_SLACK_SIGNING_SECRET": "8f742231b10e8888abcd99yyyzzz85a5",
        "CHATKEEPER_SLACK_BOT_TOKEN": bad_token,
        "CHATKEEPER_SLACK_API_BASE_URL": fake.api_base_url,
    }
    try:
        result = CliRunner().invoke(cli, ["serve"], env=env)
    finally:
        asyncio.run_coroutine_threadsafe(fake.close(), loop_thread).result(10)
    text = result.output + caplog.text
    assert result.exit_code == 2, result.output
    assert result.output.strip().splitlines()[-1] == (
        "chatkeeper: error: slack.bot_token was rejected by Slack (auth.test: not_authed)"
    )
    assert "Traceback" not in text and bad_token not in text
    assert "8f742231b10e8888abcd99yyyzzz85a5" not in text
    assert [c.method for c in fake.state.calls] == ["auth.test"]
    _nothing_running(port)


def test_port_in_use_is_one_line_exit_1(
    tmp_path: Path, s3_endpoint: LocalS3Endpoint, bucket: str
) -> None:
    """A server.port another process holds: exit 1 and one line naming the setting."""
    with socket.socket() as taken:
        taken.bind(("127.0.0.1", 0))
        taken.listen()
        port = int(taken.getsockname()[1])
        env = _base_env(tmp_path / "home", s3_endpoint, bucket, port)
        result = CliRunner().invoke(cli, ["serve"], env=env)
    assert result.exit_code == ListenError.exit_code, result.output
    assert result.output.strip().splitlines() == [
        f"chatkeeper: error: cannot listen on 127.0.0.1:{port} (server.host, server.port): "
        "Address already in use"
    ]
    assert not [t for t in threading.enumerate() if t.name.startswith("APScheduler")]


async def test_bot_failure_in_serve_coroutine_stops_everything(
    tmp_path: Path, s3_endpoint: LocalS3Endpoint, bucket: str
) -> None:
    """The serve coroutine raises the ConfigError, with no scheduler, worker or server left."""
    port = _free_port()
    async with FakeBotApi(TOKEN) as fake:
        env = {
            **_base_env(tmp_path / "home", s3_endpoint, bucket, port),
            "CHATKEEPER_TELEGRAM_TOKEN": WRONG_TOKEN,
            "CHATKEEPER_TELEGRAM_BASE_URL": fake.base_url,
        }
        del env["CHATKEEPER_HOME"]
        settings = load_settings(home=tmp_path / "home", env=env)
        with pytest.raises(ConfigError, match=r"telegram\.token was rejected"):
            await serve(settings)
    others = [t for t in asyncio.all_tasks() if t is not asyncio.current_task()]
    assert others == []  # no attachment worker, no polling loop
    _nothing_running(port)


async def test_rejected_slack_app_token_fails_start_instead_of_retrying(tmp_path: Path) -> None:
    """Socket Mode with a refused app token: start raises one ConfigError, no endless reconnect."""
    from dataclasses import replace

    from archive.journal.sqlite import SqliteJournal
    from bots.slack.bot import SlackBot
    from tests.bots.slack.conftest import slack_settings

    fake = await serve_fake_slack(sandbox_state())
    settings = replace(
        slack_settings(fake, mode="socket", signing_secret="", app_token="xapp-1-refused"),
        reconcile_interval_seconds=0,
    )
    with SqliteJournal(tmp_path / "j.db") as journal:
        bot = SlackBot(settings, journal)
        with pytest.raises(ConfigError) as caught:
            await bot.start()
        await bot.stop()
    await fake.close()
    assert str(caught.value) == (
        "slack.app_token was rejected by Slack (apps.connections.open: not_authed)"
    )
    assert bot.socket_handler is None
    assert [c.method for c in fake.state.calls] == ["auth.test", "apps.connections.open"]
