"""The webhook endpoint behind a real aiohttp server, fed by the fake Bot API."""

from __future__ import annotations

import asyncio
import json
import socket
from concurrent.futures import Future
from typing import Any
from unittest import mock

import aiohttp
import pytest
from aiohttp import web
from telegram import Update

from archive.errors import ConfigError, JournalError
from archive.journal.sqlite import SqliteJournal
from archive.model import Kind, Record, Source
from bots.telegram.application import TelegramRuntime
from bots.telegram.sandbox import payloads as p
from bots.telegram.sandbox.fake_api import FakeBotApi
from bots.telegram.webhook import SECRET_HEADER, webhook_app, webhook_handler
from tests.bots.telegram.conftest import SECRET, Starter, settings_for

GROUP = p.supergroup()
BOB = p.user(502, "Bob", "bob")


async def _wait_for(journal: SqliteJournal, count: int) -> list[Record]:
    async with asyncio.timeout(10):
        while len(records := list(journal.iter_records())) < count:
            await asyncio.sleep(0.01)
    return records


async def test_set_webhook_asks_for_everything(fake: FakeBotApi, webhook_server: Starter) -> None:
    """setWebhook sends the secret, every update type, and keeps pending updates."""
    _, url = await webhook_server()
    (call,) = fake.state.calls("setWebhook")
    assert call["url"] == url
    assert call["secret_token"] == SECRET
    assert call["allowed_updates"] == list(Update.ALL_TYPES)
    assert call["drop_pending_updates"] is False


async def test_delivery_is_journaled_before_200(
    fake: FakeBotApi, journal: SqliteJournal, webhook_server: Starter
) -> None:
    """An update POSTed by Telegram is journaled with its exact body and confirmed by 200."""
    await webhook_server()
    uid = await fake.push("message", p.message(GROUP, BOB, 21, "Offer 99 ½"), indent=1)
    await fake.wait_drained()
    (record,) = list(journal.iter_records())
    assert record.raw == fake.state.pushed[uid]
    assert record.source is Source.WEBHOOK
    assert fake.state.webhook_attempts == [(uid, 200)]


@pytest.mark.parametrize("header", [None, "wrong-secret", SECRET + "x"])
async def test_wrong_secret_is_refused(
    fake: FakeBotApi, journal: SqliteJournal, webhook_server: Starter, header: str | None
) -> None:
    """A missing or wrong secret token gets 403 and nothing is journaled."""
    _, url = await webhook_server()
    update = {"update_id": 1, "message": p.message(GROUP, BOB, 22, "forged")}
    headers = {"Content-Type": "application/json"}
    if header is not None:
        headers[SECRET_HEADER] = header
    async with (
        aiohttp.ClientSession() as session,
        session.post(url, data=json.dumps(update), headers=headers) as response,
    ):
        assert response.status == 403
    assert list(journal.iter_records()) == []


NOT_UPDATES = (
    b"{not json",
    b"[1,2]",
    b'{"message":{}}',
    b'{"update_id": true}',
    b"[" * 200_000 + b"]" * 200_000,
    b'{"update_id": 5, "message": ' * 100_000 + b"{}" + b"}" * 100_000,
    b"[" * 900 + b"]" * 900,
)


async def test_not_an_update_is_400_and_kept(
    journal: SqliteJournal, webhook_server: Starter
) -> None:
    """A body with the right secret that is no update (deep nesting included) gets 400 and is kept once as other."""
    _, url = await webhook_server()
    headers = {SECRET_HEADER: SECRET}
    async with aiohttp.ClientSession() as session:
        for body in NOT_UPDATES * 2:  # the second round is Telegram redelivering
            async with session.post(url, data=body, headers=headers) as response:
                assert response.status == 400
    records = list(journal.iter_records())
    assert [r.raw for r in records] == list(NOT_UPDATES)
    assert {r.kind for r in records} == {Kind.OTHER}
    assert all(r.details["malformed"] and r.source is Source.WEBHOOK for r in records)


async def test_malformed_body_journal_failure_is_500(
    journal: SqliteJournal, webhook_server: Starter
) -> None:
    """If keeping a malformed body fails, Telegram gets 500 (and retries), nothing half-stored."""
    _, url = await webhook_server()
    headers = {SECRET_HEADER: SECRET}
    async with aiohttp.ClientSession() as session:
        with mock.patch.object(journal, "submit", side_effect=JournalError("disk full")):
            async with session.post(url, data=b"[" * 100_000, headers=headers) as response:
                assert response.status == 500
        assert list(journal.iter_records()) == []
        async with session.post(url, data=b"[" * 100_000, headers=headers) as response:
            assert response.status == 400
    assert len(list(journal.iter_records())) == 1


async def test_journal_failure_answers_500_and_telegram_retries(
    fake: FakeBotApi, journal: SqliteJournal, webhook_server: Starter
) -> None:
    """A failed commit answers 500; Telegram's retry is stored once."""
    await webhook_server()
    real_submit = journal.submit
    calls = {"n": 0}

    def flaky(records: Any) -> Future[list[int]]:
        calls["n"] += 1
        if calls["n"] == 1:
            raise JournalError("disk full")
        return real_submit(records)

    with mock.patch.object(journal, "submit", side_effect=flaky):
        uid = await fake.push("message", p.message(GROUP, BOB, 23, "Retry me"))
        await fake.wait_drained()
    assert [status for _, status in fake.state.webhook_attempts] == [500, 200]
    records = await _wait_for(journal, 1)
    assert [r.message_id for r in records] == ["23"]
    assert records[0].details["update_id"] == uid


async def test_redelivered_update_is_stored_once(
    fake: FakeBotApi, journal: SqliteJournal, webhook_server: Starter
) -> None:
    """Posting the same update twice (a retry after a lost 200) keeps one record."""
    _, url = await webhook_server()
    body = json.dumps({"update_id": 77, "message": p.message(GROUP, BOB, 24, "Twice")}).encode()
    headers = {SECRET_HEADER: SECRET, "Content-Type": "application/json"}
    async with aiohttp.ClientSession() as session:
        for _ in range(2):
            async with session.post(url, data=body, headers=headers) as response:
                assert response.status == 200
    assert [r.message_id for r in journal.iter_records()] == ["24"]


def test_handler_requires_a_secret(journal: SqliteJournal) -> None:
    """The endpoint refuses to exist without a secret (fail closed)."""
    with pytest.raises(ConfigError):
        webhook_handler(mock.sentinel.ingest, "")


async def test_crash_before_commit_is_redelivered(fake: FakeBotApi, journal: SqliteJournal) -> None:
    """The process dies while the commit hangs: no 200, so Telegram redelivers to the new process."""
    hang: Future[list[int]] = Future()

    async def serve() -> tuple[TelegramRuntime, web.AppRunner]:
        sock = socket.socket(socket.AF_INET, socket.SOCK_STREAM)
        sock.bind(("127.0.0.1", 0))
        url = f"http://127.0.0.1:{sock.getsockname()[1]}/telegram/webhook"
        settings = settings_for(fake, mode="webhook", webhook_url=url, webhook_secret=SECRET)
        runtime = TelegramRuntime(settings, journal, capture_mode="all")
        app = webhook_app(runtime.capture, SECRET, "/telegram/webhook")
        runner = web.AppRunner(app, shutdown_timeout=0.1)
        await runner.setup()
        await web.SockSite(runner, sock).start()
        await runtime.start()
        return runtime, runner

    first, first_runner = await serve()
    with mock.patch.object(journal, "submit", return_value=hang) as submit:
        uid = await fake.push("message", p.message(GROUP, BOB, 25, "in flight"))
        async with asyncio.timeout(5):
            while submit.call_count == 0:  # the POST is inside the handler, awaiting the commit
                await asyncio.sleep(0.01)
        await first_runner.cleanup()  # the crash: the connection drops without an answer
        await first.stop()
    assert list(journal.iter_records()) == []
    second, second_runner = await serve()  # restart: setWebhook points Telegram at it
    try:
        await fake.wait_drained()
        assert [r.message_id for r in journal.iter_records()] == ["25"]
        statuses = [status for update_id, status in fake.state.webhook_attempts if update_id == uid]
        assert statuses[0] != 200 and statuses[-1] == 200
    finally:
        await second.stop()
        await second_runner.cleanup()
