"""Socket Mode through Bolt's aiohttp handler against the fake's WebSocket endpoint."""

from __future__ import annotations

import json
from collections.abc import AsyncIterator
from unittest import mock

import pytest

from archive.errors import JournalError
from archive.journal.sqlite import SqliteJournal
from archive.model import Source
from bots.slack.bot import SlackBot
from bots.slack.sandbox import envelope, serve_fake_slack
from bots.slack.sandbox.fake_api import RunningFakeSlack
from bots.slack.sandbox.payloads import plain
from tests.bots.slack.conftest import PUBLIC, TEAM, sandbox_state, slack_settings


@pytest.fixture
async def socket_bot(journal: SqliteJournal) -> AsyncIterator[tuple[RunningFakeSlack, SlackBot]]:
    fake = await serve_fake_slack(sandbox_state())
    bot = SlackBot(
        slack_settings(fake, mode="socket", signing_secret="", app_token=fake.state.app_token),
        journal,
        capture_mode="all",
    )
    await bot.start_socket_mode()
    await fake.api.wait_for_socket()
    yield fake, bot
    await bot.stop()
    await fake.close()


async def test_event_is_acked_after_commit(
    socket_bot: tuple[RunningFakeSlack, SlackBot], journal: SqliteJournal
) -> None:
    """An events_api envelope is journaled (source socket_mode) and then acked by envelope_id."""
    fake, _ = socket_bot
    await fake.api.push("events_api", envelope(TEAM, plain()), "env-1")
    ack = await fake.api.wait_for_ack("env-1")
    assert ack == {"envelope_id": "env-1"}
    (record,) = journal.iter_records()
    assert record.source is Source.SOCKET_MODE and record.conversation == PUBLIC
    frame = json.loads(record.raw)  # the exact WebSocket frame, envelope included
    assert frame["envelope_id"] == "env-1" and frame["payload"]["event"]["ts"] == plain()["ts"]
    assert [c.method for c in fake.state.calls if c.method == "apps.connections.open"] == [
        "apps.connections.open"
    ]
    assert fake.state.calls_to("apps.connections.open")[0].authorized


async def test_journal_failure_means_no_ack_then_redelivery_stored_once(
    socket_bot: tuple[RunningFakeSlack, SlackBot], journal: SqliteJournal
) -> None:
    """When the journal fails no ack is sent; Slack's redelivery is stored once and acked."""
    fake, _ = socket_bot
    payload = envelope(TEAM, plain())
    with mock.patch.object(journal, "submit", side_effect=JournalError("disk full")):
        await fake.api.push("events_api", payload, "env-2")
        assert await fake.api.wait_for_ack("env-2", timeout=1.0) is None
    assert list(journal.iter_records()) == []
    await fake.api.push("events_api", payload, "env-3", retry_attempt=1)
    assert await fake.api.wait_for_ack("env-3") is not None
    await fake.api.push("events_api", payload, "env-4", retry_attempt=2)
    assert await fake.api.wait_for_ack("env-4") is not None
    assert len(list(journal.iter_records())) == 1


async def test_slash_command_over_socket(
    socket_bot: tuple[RunningFakeSlack, SlackBot], journal: SqliteJournal
) -> None:
    """A slash command arrives as an envelope; the ack carries the reply, the attempt is journaled first."""
    fake, _ = socket_bot
    command = {
        "command": "/chatkeeper",
        "text": "on",
        "team_id": TEAM,
        "channel_id": PUBLIC,
        "user_id": "U0BOB0001",
        "trigger_id": "1.2.3",
    }
    await fake.api.push("slash_commands", command, "env-5")
    ack = await fake.api.wait_for_ack("env-5")
    assert ack is not None and "only workspace admins" in ack["payload"]["text"]
    (record,) = journal.iter_records()
    assert record.kind.value == "admin_action" and record.source is Source.SOCKET_MODE
