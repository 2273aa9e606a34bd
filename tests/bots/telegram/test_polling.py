"""The own getUpdates loop against the fake Bot API: journal first, then the offset."""

from __future__ import annotations

import asyncio
from concurrent.futures import Future
from unittest import mock

import pytest
from telegram import Update

from archive.errors import JournalError
from archive.journal.sqlite import SqliteJournal
from archive.model import Kind, Source
from bots.telegram.polling import PollingLoop
from bots.telegram.sandbox import payloads as p
from bots.telegram.sandbox.fake_api import FakeBotApi
from tests.bots.telegram.conftest import RuntimeFactory

GROUP = p.supergroup()
ALICE = p.user(501, "Alice", "alice")


async def test_start_subscribes_safely(fake: FakeBotApi, make_runtime: RuntimeFactory) -> None:
    """Start calls getMe, registers the commands and deletes the webhook without dropping updates."""
    await make_runtime()
    methods = [name for name, _ in fake.state.requests]
    assert methods[0] == "getMe"
    (registered,) = fake.state.calls("setMyCommands")
    assert [c["command"] for c in registered["commands"]] == [
        "archive_on",
        "archive_off",
        "archive_status",
    ]
    assert fake.state.calls("deleteWebhook") == [{"drop_pending_updates": False}]


async def test_poll_journals_exact_bytes_then_advances_offset(
    fake: FakeBotApi, journal: SqliteJournal, make_runtime: RuntimeFactory
) -> None:
    """Each update is journaled with its exact bytes; the next getUpdates confirms it."""
    runtime = await make_runtime()
    loop = PollingLoop(runtime)
    uid = await fake.push("message", p.message(GROUP, ALICE, 11, "Bid 101.5 for 5m"), indent=2)
    assert await loop.poll_once() == 1
    records = list(journal.iter_records())
    assert len(records) == 1
    assert records[0].raw == fake.state.pushed[uid]
    assert records[0].source is Source.POLLING
    assert records[0].text == "Bid 101.5 for 5m"
    first = fake.state.calls("getUpdates")[0]
    assert first["allowed_updates"] == list(Update.ALL_TYPES)
    assert "offset" not in first
    await loop.poll_once()
    assert fake.state.calls("getUpdates")[1]["offset"] == uid + 1
    assert fake.state.pending == []


async def test_sticky_allowed_updates_bring_admin_only_types(
    fake: FakeBotApi, journal: SqliteJournal, make_runtime: RuntimeFactory
) -> None:
    """After the first poll asks for every type, chat_member and reactions are delivered."""
    runtime = await make_runtime()
    loop = PollingLoop(runtime)
    assert await fake.push("message_reaction", p.reaction(GROUP, ALICE, 11, new=("👍",))) == 0
    await loop.poll_once()
    await fake.push("message_reaction", p.reaction(GROUP, ALICE, 11, new=("👍",)))
    await fake.push("chat_member", p.member_update(GROUP, ALICE, ALICE, "left", "member"))
    assert await loop.poll_once() == 2
    kinds = [r.kind for r in journal.iter_records()]
    assert kinds == [Kind.REACTION_ADDED, Kind.MEMBER_JOINED]


async def test_crash_before_commit_is_redelivered(
    fake: FakeBotApi, journal: SqliteJournal, make_runtime: RuntimeFactory
) -> None:
    """A journal failure leaves the offset alone; a restarted loop gets the update again."""
    runtime = await make_runtime()
    uid = await fake.push("message", p.message(GROUP, ALICE, 12, "Confirm the fill?"))
    loop = PollingLoop(runtime)
    with (
        mock.patch.object(journal, "submit", side_effect=JournalError("disk full")),
        pytest.raises(JournalError),
    ):
        await loop.poll_once()
    assert loop.offset is None
    assert list(journal.iter_records()) == []
    assert [u.update_id for u in fake.state.pending] == [uid]

    restarted = PollingLoop(await make_runtime())  # a fresh process knows no offset
    assert await restarted.poll_once() == 1
    assert [r.message_id for r in journal.iter_records()] == ["12"]
    assert all(c.get("offset", 0) <= uid for c in fake.state.calls("getUpdates"))


async def test_duplicates_are_stored_once(
    fake: FakeBotApi, journal: SqliteJournal, make_runtime: RuntimeFactory
) -> None:
    """The same update twice, and the same message in two updates, give one record."""
    runtime = await make_runtime()
    loop = PollingLoop(runtime)
    body = p.message(GROUP, ALICE, 13, "Done at 101.5")
    await fake.push("message", body)
    await loop.poll_once()
    loop.offset = None  # as after a crash before the confirming poll
    await fake.push("message", body)
    await loop.poll_once()
    assert [r.message_id for r in journal.iter_records()] == ["13"]
    assert len(fake.state.calls("getUpdates")) == 2


async def test_run_until_stopped_confirms_last_batch(
    fake: FakeBotApi, journal: SqliteJournal, make_runtime: RuntimeFactory
) -> None:
    """run() polls until stopped and confirms the last durable batch on the way out."""
    runtime = await make_runtime()
    loop = PollingLoop(runtime, timeout=1)
    stop = asyncio.Event()
    task = asyncio.create_task(loop.run(stop))
    uid = await fake.push("message", p.message(GROUP, ALICE, 14, "EOD"))
    async with asyncio.timeout(5):
        while not list(journal.iter_records()):
            await asyncio.sleep(0.01)
    stop.set()
    await task
    assert fake.state.calls("getUpdates")[-1]["offset"] == uid + 1
    assert fake.state.pending == []


async def test_update_ptb_cannot_parse_is_still_journaled(
    fake: FakeBotApi, journal: SqliteJournal, make_runtime: RuntimeFactory
) -> None:
    """An update PTB rejects (a video without width) is journaled from its raw bytes."""
    loop = PollingLoop(await make_runtime())
    video = {"file_id": "V", "file_unique_id": "UV", "duration": 2}
    uid = await fake.push("message", p.message(GROUP, ALICE, 15, video=video))
    assert await loop.poll_once() == 1
    (record,) = list(journal.iter_records())
    assert record.raw == fake.state.pushed[uid]
    assert record.attachments[0].ref == "UV"


async def test_cancelled_mid_commit_is_redelivered(
    fake: FakeBotApi, journal: SqliteJournal, make_runtime: RuntimeFactory
) -> None:
    """The poller dies while the commit hangs: the offset never moved, the update comes back."""
    runtime = await make_runtime()
    uid = await fake.push("message", p.message(GROUP, ALICE, 16, "in flight"))
    loop = PollingLoop(runtime)
    with mock.patch.object(journal, "submit", return_value=Future()) as submit:
        task = asyncio.create_task(loop.poll_once())
        async with asyncio.timeout(5):
            while submit.call_count == 0:
                await asyncio.sleep(0.01)
        task.cancel()
        with pytest.raises(asyncio.CancelledError):
            await task
    assert list(journal.iter_records()) == []
    restarted = PollingLoop(await make_runtime())
    assert await restarted.poll_once() == 1
    assert [r.message_id for r in journal.iter_records()] == ["16"]
    assert fake.state.pushed[uid] == next(journal.iter_records()).raw
