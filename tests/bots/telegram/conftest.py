"""Fixtures: a SQLite journal, the fake Bot API on an ephemeral port, and a bot wired to both."""

from __future__ import annotations

import socket
from collections.abc import AsyncIterator, Awaitable, Callable, Iterator
from dataclasses import replace
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

import pytest
from aiohttp import web

from archive.clock import FixedClock
from archive.journal.sqlite import SqliteJournal
from bots.telegram.application import TelegramRuntime
from bots.telegram.sandbox.fake_api import FakeBotApi
from bots.telegram.settings import TelegramSettings
from bots.telegram.webhook import webhook_app

TOKEN = "7001234567:AAF-test-secret-part-of-the-token_xyz"
BOT_ID = "7001234567"
SECRET = "s3cret-Token_for-webhooks"
NOW = datetime(2026, 10, 26, 9, 0, tzinfo=UTC)


@pytest.fixture
def journal(tmp_path: Path) -> Iterator[SqliteJournal]:
    with SqliteJournal(tmp_path / "journal.db") as j:
        yield j


@pytest.fixture
async def fake() -> AsyncIterator[FakeBotApi]:
    async with FakeBotApi(TOKEN) as api:
        yield api


def settings_for(fake: FakeBotApi, **overrides: Any) -> TelegramSettings:
    base = TelegramSettings(
        token=TOKEN,
        base_url=fake.base_url,
        base_file_url=fake.base_file_url,
        poll_timeout_seconds=0,
    )
    return replace(base, **overrides)


RuntimeFactory = Callable[..., Awaitable[TelegramRuntime]]
Starter = Callable[..., Awaitable[tuple[TelegramRuntime, str]]]


@pytest.fixture
async def make_runtime(fake: FakeBotApi, journal: SqliteJournal) -> AsyncIterator[RuntimeFactory]:
    started: list[TelegramRuntime] = []

    async def build(
        *,
        mode: str = "polling",
        capture_mode: str = "all",
        admins: tuple[str, ...] = (),
        home: Path | None = None,
        **kw: Any,
    ) -> TelegramRuntime:
        settings = settings_for(fake, mode=mode, **kw)
        runtime = TelegramRuntime(
            settings,
            journal,
            capture_mode=capture_mode,
            configured_admins=admins,
            clock=FixedClock(NOW),
            home=home,
        )
        await runtime.start()
        started.append(runtime)
        return runtime

    yield build
    for runtime in started:
        await runtime.stop()


@pytest.fixture
async def webhook_server(fake: FakeBotApi, journal: SqliteJournal) -> AsyncIterator[Starter]:
    """Start the bot in webhook mode behind a real aiohttp server; returns (runtime, url)."""
    cleanups: list[Callable[[], Awaitable[None]]] = []

    async def start(
        capture_mode: str = "all", admins: tuple[str, ...] = ()
    ) -> tuple[TelegramRuntime, str]:
        sock = socket.socket(socket.AF_INET, socket.SOCK_STREAM)
        sock.bind(("127.0.0.1", 0))
        url = f"http://127.0.0.1:{sock.getsockname()[1]}/telegram/webhook"
        settings = settings_for(fake, mode="webhook", webhook_url=url, webhook_secret=SECRET)
        runtime = TelegramRuntime(
            settings,
            journal,
            capture_mode=capture_mode,
            configured_admins=admins,
            clock=FixedClock(NOW),
        )
        runner = web.AppRunner(webhook_app(runtime.capture, SECRET, "/telegram/webhook"))
        await runner.setup()
        await web.SockSite(runner, sock).start()
        await runtime.start()

        async def cleanup() -> None:
            await runtime.stop()
            await runner.cleanup()

        cleanups.append(cleanup)
        return runtime, url

    yield start
    for cleanup in cleanups:
        await cleanup()
