"""TelegramBot: what `serve` runs, in both modes, until stopped."""

from __future__ import annotations

import asyncio
import socket

from aiohttp import web

from archive.clock import FixedClock
from archive.journal.sqlite import SqliteJournal
from bots.telegram.application import TelegramRuntime
from bots.telegram.bot import TelegramBot
from bots.telegram.sandbox import payloads as p
from bots.telegram.sandbox.fake_api import FakeBotApi
from tests.bots.telegram.conftest import NOW, SECRET, settings_for

GROUP = p.supergroup()
ALICE = p.user(501, "Alice")


async def _until_stored(journal: SqliteJournal, count: int) -> None:
    async with asyncio.timeout(5):
        while sum(1 for _ in journal.iter_records()) < count:
            await asyncio.sleep(0.01)


async def test_polling_service(fake: FakeBotApi, journal: SqliteJournal) -> None:
    """In polling mode run() polls, journals, and confirms on stop; it mounts no routes."""
    runtime = TelegramRuntime(
        settings_for(fake, poll_timeout_seconds=1),
        journal,
        capture_mode="all",
        clock=FixedClock(NOW),
    )
    service = TelegramBot(runtime)
    assert service.routes() == []
    stop = asyncio.Event()
    task = asyncio.create_task(service.run(stop))
    uid = await fake.push("message", p.message(GROUP, ALICE, 1, "hello"))
    await _until_stored(journal, 1)
    stop.set()
    await task
    assert fake.state.calls("getUpdates")[-1]["offset"] == uid + 1


async def test_webhook_service(fake: FakeBotApi, journal: SqliteJournal) -> None:
    """In webhook mode the routes go on the server first; run() sets the webhook and serves."""
    sock = socket.socket(socket.AF_INET, socket.SOCK_STREAM)
    sock.bind(("127.0.0.1", 0))
    url = f"http://127.0.0.1:{sock.getsockname()[1]}/telegram/webhook"
    settings = settings_for(fake, mode="webhook", webhook_url=url, webhook_secret=SECRET)
    service = TelegramBot(
        TelegramRuntime(settings, journal, capture_mode="all", clock=FixedClock(NOW))
    )
    app = web.Application()
    app.add_routes(service.routes())
    runner = web.AppRunner(app)
    await runner.setup()
    await web.SockSite(runner, sock).start()
    stop = asyncio.Event()
    task = asyncio.create_task(service.run(stop))
    try:
        await fake.push("message", p.message(GROUP, ALICE, 2, "via webhook"))
        await _until_stored(journal, 1)
        assert fake.state.calls("setWebhook")[0]["url"] == url
    finally:
        stop.set()
        await task
        await runner.cleanup()
