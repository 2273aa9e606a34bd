"""Events API deliveries through the real Bolt app over loopback HTTP."""

from __future__ import annotations

import asyncio
import json
import time
from unittest import mock

import pytest
from structlog.testing import capture_logs

from archive.errors import ConfigError, JournalError
from archive.journal.sqlite import SqliteJournal
from archive.model import Kind, Record
from bots.slack.bot import SlackBot
from bots.slack.sandbox import envelope
from bots.slack.sandbox.payloads import EVENTS, EXPECTED_KIND, plain
from bots.slack.settings import SlackSettings
from tests.bots.slack.conftest import PUBLIC, TEAM, Harness, start_harness


def _records(h: Harness) -> list:  # type: ignore[type-arg]
    return list(h.journal.iter_records())


@pytest.mark.parametrize("name", sorted(EVENTS))
async def test_every_event_type_is_journaled(harness: Harness, name: str) -> None:
    """Each documented event (and an unknown one) is acked 200 and journaled with its kind and raw bytes."""
    delivered = await harness.sender.event(envelope(TEAM, EVENTS[name]))
    assert delivered.status == 200, delivered.body
    (record,) = _records(harness)
    assert record.kind.value == EXPECTED_KIND[name]
    assert record.raw == delivered.payload
    assert record.workspace == TEAM
    assert record.conversation == PUBLIC


async def test_edit_keeps_new_and_previous_text(harness: Harness) -> None:
    """message_changed keeps both versions; message_deleted keeps the deleted text."""
    await harness.sender.event(envelope(TEAM, EVENTS["message_changed"]))
    await harness.sender.event(envelope(TEAM, EVENTS["message_deleted"]))
    edit, delete = _records(harness)
    assert (edit.text, edit.previous_text) == (
        "Quarterly numbers attached (v2)",
        "Quarterly numbers attached",
    )
    assert delete.previous_text == "Quarterly numbers attached (v2)"
    assert edit.message_id == delete.message_id == EVENTS["plain"]["ts"]


async def test_thread_and_actor_snapshot(harness: Harness) -> None:
    """A reply points at its parent; the actor snapshot comes from users.info, the name from conversations.info."""
    await harness.sender.event(envelope(TEAM, EVENTS["thread_reply"]))
    (record,) = _records(harness)
    assert record.reply_to == EVENTS["plain"]["ts"] and record.thread_id == record.reply_to
    assert record.actor is not None and (record.actor.name, record.actor.email) == (
        "Bob",
        "bob@example.com",
    )
    assert record.conversation_name == "general"
    assert record.details["conversation_type"] == "public_channel"
    assert [c.params["user"] for c in harness.state.calls_to("users.info")] == ["U0BOB0001"]


async def test_private_channel_type_comes_from_api(harness: Harness) -> None:
    """A C-prefixed private channel is recorded as private because conversations.info says so."""
    event = dict(plain(), channel="C0SECRET9")
    await harness.sender.event(envelope(TEAM, event))
    (record,) = _records(harness)
    assert record.details["conversation_type"] == "private_channel"


async def test_retries_are_stored_once(harness: Harness) -> None:
    """The same event_id delivered again with x-slack-retry-num is acked and stored once."""
    payload = envelope(TEAM, plain())
    first = await harness.sender.event(payload)
    again = [await harness.sender.event(payload, retry_num=n) for n in (1, 2, 3)]
    assert [d.status for d in [first, *again]] == [200, 200, 200, 200]
    assert len(_records(harness)) == 1


async def test_identity_lookups_are_cached(harness: Harness) -> None:
    """users.info is called once per actor, not once per event."""
    for n in range(5):
        await harness.sender.event(envelope(TEAM, plain(ts=f"1764410000.00{n}100")))
    assert len(_records(harness)) == 5
    assert len(harness.state.calls_to("users.info")) == 1
    assert len(harness.state.calls_to("conversations.info")) == 1


async def test_forged_signature_is_rejected(harness: Harness) -> None:
    """A body signed with the wrong secret gets 401 and is not journaled."""
    body = json.dumps(envelope(TEAM, plain())).encode()
    forged = await harness.sender.post(
        "/slack/events", body, headers={"X-Slack-Signature": "v0=" + "0" * 64}
    )
    unsigned = await harness.sender.post("/slack/events", body, signed=False)
    assert forged.status == 401 and unsigned.status == 401
    assert _records(harness) == []


async def test_stale_replay_is_rejected(harness: Harness) -> None:
    """A correctly signed request replayed six minutes later is refused with 401."""
    body = json.dumps(envelope(TEAM, plain())).encode()
    stale = await harness.sender.post("/slack/events", body, timestamp=int(time.time()) - 360)
    assert stale.status == 401
    assert _records(harness) == []


async def test_tampered_body_is_rejected(harness: Harness) -> None:
    """Changing one byte after signing breaks the signature."""
    body = json.dumps(envelope(TEAM, plain())).encode()
    headers = harness.sender.sign(body)
    tampered = body.replace(b"Quarterly", b"quarterly")
    delivered = await harness.sender.post("/slack/events", tampered, headers=headers, signed=False)
    assert delivered.status == 401
    assert _records(harness) == []


async def test_journal_failure_is_a_5xx_then_retry_succeeds(harness: Harness) -> None:
    """A JournalError becomes HTTP 500 (Slack retries); the retry is stored exactly once."""
    payload = envelope(TEAM, plain())
    with mock.patch.object(harness.journal, "submit", side_effect=JournalError("disk full")):
        failed = await harness.sender.event(payload)
    assert failed.status >= 500
    assert _records(harness) == []
    retried = await harness.sender.event(payload, retry_num=1)
    assert retried.status == 200
    assert len(_records(harness)) == 1


async def test_crash_between_commit_and_ack_does_not_duplicate(harness: Harness) -> None:
    """If the process dies after the commit but before the ack, Slack's retry is a no-op."""
    payload = envelope(TEAM, plain())
    real_submit = harness.journal.submit

    def commit_then_crash(records):  # type: ignore[no-untyped-def]
        real_submit(records).result()
        raise JournalError("connection reset after commit")

    with mock.patch.object(harness.journal, "submit", side_effect=commit_then_crash):
        lost_ack = await harness.sender.event(payload)
    assert lost_ack.status == 500
    retried = await harness.sender.event(payload, retry_num=1)
    assert retried.status == 200
    assert len(_records(harness)) == 1


async def test_bots_own_posts_are_kept(harness: Harness) -> None:
    """Messages posted by chatkeeper itself are captured (self events are not ignored)."""
    event = dict(plain("Capture is now on"), user="UBOT", bot_id="BBOT")
    delivered = await harness.sender.event(envelope(TEAM, event))
    assert delivered.status == 200
    (record,) = _records(harness)
    assert record.actor is not None and record.actor.id == "UBOT"


async def test_top_level_unknown_payload_is_kept(harness: Harness) -> None:
    """app_rate_limited (no inner event) is kept as other, raises an alarm, and is not answered 404."""
    payload = {
        "token": "x",
        "type": "app_rate_limited",
        "team_id": TEAM,
        "minute_rate_limited": 1764412800,
        "api_app_id": "A0CHATKEEP",
    }
    with capture_logs() as logs:
        delivered = await harness.sender.event(payload)
    assert delivered.status == 200
    (record,) = _records(harness)
    assert record.kind is Kind.OTHER and record.details["event"] == "app_rate_limited"
    assert {
        "event": "slack.alarm",
        "alarm": "app_rate_limited",
        "team": TEAM,
        "log_level": "warning",
    } in logs


async def test_url_verification_is_answered(harness: Harness) -> None:
    """The challenge is echoed when the Request URL is configured, and nothing is journaled."""
    delivered = await harness.sender.event(
        {"type": "url_verification", "challenge": "abc123", "token": "x"}
    )
    assert delivered.status == 200 and "abc123" in delivered.body
    assert _records(harness) == []


async def test_opt_in_skips_unmonitored(opt_in: Harness) -> None:
    """In opt_in mode nothing from an unmonitored channel is stored, and it is still acked."""
    delivered = await opt_in.sender.event(envelope(TEAM, plain()))
    assert delivered.status == 200
    assert _records(opt_in) == []


async def test_user_change_refreshes_identity(harness: Harness) -> None:
    """A user_change event updates the cached display name used for later records."""
    await harness.sender.event(envelope(TEAM, plain()))
    user = dict(
        harness.state.users["U0ALICE01"],
        profile={"display_name": "Alice B.", "email": "ab@example.com"},
    )
    await harness.sender.event(
        envelope(TEAM, {"type": "user_change", "user": user, "event_ts": "1764413000.0"})
    )
    await harness.sender.event(envelope(TEAM, plain(ts="1764413001.000100")))
    first, change, last = _records(harness)
    assert first.actor is not None and first.actor.name == "Alice"
    assert change.kind is Kind.OTHER and change.conversation == ""
    assert last.actor is not None and last.actor.name == "Alice B."
    assert len(harness.state.calls_to("users.info")) == 1


def test_http_mode_refuses_to_start_without_signing_secret(journal: SqliteJournal) -> None:
    """HTTP mode fails closed without a signing secret; Socket Mode needs an xapp- token."""
    with pytest.raises(ConfigError, match="signing_secret"):
        SlackBot(SlackSettings(bot_token="xoxb-1", signing_secret="  "), journal)
    with pytest.raises(ConfigError, match="app_token"):
        SlackBot(SlackSettings(bot_token="xoxb-1", mode="socket", app_token=""), journal)


async def test_translation_bug_still_keeps_the_delivery(harness: Harness) -> None:
    """If translation raises, the raw delivery is journaled as other and acked (never lost)."""
    payload = envelope(TEAM, plain())

    def broken(*_: object) -> Record:
        raise KeyError("boom")

    harness.bot.capture.translate = broken
    delivered = await harness.sender.event(payload)
    assert delivered.status == 200
    (record,) = _records(harness)
    assert record.kind is Kind.OTHER and record.details["translate_error"] == "KeyError"
    assert record.raw == delivered.payload


async def test_capture_does_not_depend_on_the_web_api(harness: Harness) -> None:
    """With users.info/conversations.info failing (revoked token), events are still journaled and acked."""
    harness.state.token = "xoxb-revoked"  # every Web API call now answers not_authed
    delivered = await harness.sender.event(envelope(TEAM, plain()))
    assert delivered.status == 200
    (record,) = _records(harness)
    assert record.actor is not None and (record.actor.id, record.actor.name) == ("U0ALICE01", None)
    assert record.conversation_name is None
    assert harness.state.calls_to("auth.test") == []


async def test_event_callback_without_event_is_kept(harness: Harness) -> None:
    """A verified event_callback with no inner event is kept as other and answered 400, not 404."""
    delivered = await harness.sender.event(
        {"type": "event_callback", "team_id": TEAM, "event_id": "EvBROKEN"}
    )
    assert delivered.status == 400
    (record,) = _records(harness)
    assert record.kind is Kind.OTHER and record.details["event"] == "event_callback"


async def test_slow_web_api_does_not_delay_the_ack(journal: SqliteJournal) -> None:
    """A slow users.info is not waited for past slack.api_timeout_seconds; its answer serves the next event."""
    async for h in start_harness(journal, api_timeout_seconds=0.2):
        h.state.delays["users.info"] = 0.9  # below the 1 s HTTP timeout, above the deadline
        first = await h.sender.event(envelope(TEAM, plain()))
        assert first.status == 200 and first.seconds < 0.8
        await asyncio.sleep(1.0)  # the lookup finishes in the background and fills the cache
        await h.sender.event(envelope(TEAM, plain(ts="1764410001.000100")))
        early, late = _records(h)
        assert early.actor is not None and early.actor.name is None
        assert late.actor is not None and late.actor.name == "Alice"
        assert len(h.state.calls_to("users.info")) == 1
