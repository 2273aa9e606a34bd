"""/chatkeeper commands and @mentions through the real Bolt app."""

from __future__ import annotations

import threading

from archive.journal.sqlite import SqliteJournal
from archive.model import Kind
from bots.slack.sandbox import envelope
from bots.slack.sandbox.payloads import plain
from tests.bots.loop_watch import LoopWatchJournal
from tests.bots.slack.conftest import PRIVATE, PUBLIC, TEAM, Harness, start_harness


def _kinds(h: Harness) -> list[str]:
    return [r.kind.value for r in h.journal.iter_records()]


async def test_non_admin_on_is_refused_and_recorded(opt_in: Harness) -> None:
    """A regular member gets a polite refusal; the attempt is an admin_action; nothing changes."""
    reply = await opt_in.sender.command(team=TEAM, channel=PUBLIC, user="U0ALICE01", text="on")
    assert reply.status == 200 and "only workspace admins" in reply.body
    (record,) = opt_in.journal.iter_records()
    assert record.kind is Kind.ADMIN_ACTION
    assert record.details == {
        "command": "on",
        "allowed": False,
        "reason": "not a workspace admin or configured admin",
    }
    assert record.actor is not None and record.actor.name == "Alice"
    assert not opt_in.journal.is_monitored("slack", TEAM, PUBLIC)
    assert opt_in.state.calls_to("conversations.join") == []


async def test_admin_on_joins_public_channel_and_captures(opt_in: Harness) -> None:
    """An admin's `on` is journaled, joins the public channel, and later messages are captured."""
    reply = await opt_in.sender.command(team=TEAM, channel=PUBLIC, user="U0ADMIN01", text="on")
    assert reply.status == 200 and "now *on*" in reply.body
    assert [c.params["channel"] for c in opt_in.state.calls_to("conversations.join")] == [PUBLIC]
    assert opt_in.journal.is_monitored("slack", TEAM, PUBLIC)
    await opt_in.sender.event(envelope(TEAM, plain()))
    assert _kinds(opt_in) == ["admin_action", "monitoring_changed", "message"]


async def test_admin_on_private_channel_explains_invite(opt_in: Harness) -> None:
    """For a private channel the bot does not try to join and explains it must be invited."""
    reply = await opt_in.sender.command(team=TEAM, channel=PRIVATE, user="U0ADMIN01", text="on")
    assert "invites me" in reply.body
    assert opt_in.state.calls_to("conversations.join") == []
    assert opt_in.journal.is_monitored("slack", TEAM, PRIVATE)


async def test_configured_admin_may_turn_off(opt_in: Harness) -> None:
    """A user id listed in capture.admin_user_ids may change monitoring without being a Slack admin."""
    opt_in.state.add_user("U0CONFIG1", "Carol")
    await opt_in.sender.command(team=TEAM, channel=PUBLIC, user="U0ADMIN01", text="on")
    reply = await opt_in.sender.command(team=TEAM, channel=PUBLIC, user="U0CONFIG1", text="off")
    assert "now *off*" in reply.body
    assert not opt_in.journal.is_monitored("slack", TEAM, PUBLIC)
    assert _kinds(opt_in) == [
        "admin_action",
        "monitoring_changed",
        "admin_action",
        "monitoring_changed",
    ]


async def test_status_list_help_for_everyone(opt_in: Harness) -> None:
    """Read-only commands answer anyone and are recorded as allowed attempts."""
    await opt_in.sender.command(team=TEAM, channel=PUBLIC, user="U0ADMIN01", text="on")
    status = await opt_in.sender.command(team=TEAM, channel=PUBLIC, user="U0BOB0001", text="status")
    listing = await opt_in.sender.command(team=TEAM, channel=PUBLIC, user="U0BOB0001", text="list")
    helped = await opt_in.sender.command(team=TEAM, channel=PUBLIC, user="U0BOB0001", text="")
    assert "*on* here since" in status.body and "no bundle sealed yet" in status.body
    assert "general" in listing.body
    assert "`status`" in helped.body
    audit = [r for r in opt_in.journal.iter_records() if r.kind is Kind.ADMIN_ACTION]
    assert [(r.details["command"], r.details["allowed"]) for r in audit] == [
        ("on", True),
        ("status", True),
        ("list", True),
        ("help", True),
    ]


async def test_unknown_words_are_refused_and_recorded(opt_in: Harness) -> None:
    """Words that are not a command get the help text and an admin_action with allowed=false."""
    reply = await opt_in.sender.command(
        team=TEAM, channel=PUBLIC, user="U0ADMIN01", text="delete everything"
    )
    assert "did not understand" in reply.body
    (record,) = opt_in.journal.iter_records()
    assert record.details["allowed"] is False and record.details["command"] is None


async def test_mention_on_by_admin(opt_in: Harness) -> None:
    """`@chatkeeper on` from an admin turns capture on and answers with an ephemeral message."""
    event = {
        "type": "app_mention",
        "user": "U0ADMIN01",
        "text": "<@UBOT> on",
        "ts": "1764420000.000100",
        "channel": PUBLIC,
        "event_ts": "1764420000.000100",
    }
    delivered = await opt_in.sender.event(envelope(TEAM, event))
    assert delivered.status == 200
    assert opt_in.journal.is_monitored("slack", TEAM, PUBLIC)
    (posted,) = opt_in.state.posted
    assert posted["user"] == "U0ADMIN01" and "now *on*" in posted["text"]
    assert _kinds(opt_in) == ["admin_action", "monitoring_changed"]


async def test_mention_retry_is_recorded_once(opt_in: Harness) -> None:
    """A retried @mention delivery does not create a second admin_action."""
    event = {
        "type": "app_mention",
        "user": "U0BOB0001",
        "text": "<@UBOT> on",
        "ts": "1764420000.000200",
        "channel": PUBLIC,
    }
    payload = envelope(TEAM, event)
    await opt_in.sender.event(payload)
    await opt_in.sender.event(payload, retry_num=1)
    assert _kinds(opt_in) == ["admin_action"]


async def test_status_in_capture_all_mode(harness: Harness) -> None:
    """With capture.mode = "all" the status says every conversation the bot is in is captured."""
    reply = await harness.sender.command(team=TEAM, channel=PUBLIC, user="U0BOB0001", text="status")
    assert 'capture mode \\"all\\"' in reply.body or 'capture mode "all"' in reply.body


async def test_off_stops_capture_at_once(opt_in: Harness) -> None:
    """After `off`, the next message in that channel is acked but not stored."""
    await opt_in.sender.command(team=TEAM, channel=PUBLIC, user="U0ADMIN01", text="on")
    await opt_in.sender.event(envelope(TEAM, plain(ts="1764430000.000100")))
    await opt_in.sender.command(team=TEAM, channel=PUBLIC, user="U0ADMIN01", text="off")
    after = await opt_in.sender.event(envelope(TEAM, plain(ts="1764430001.000100")))
    assert after.status == 200
    assert _kinds(opt_in) == [
        "admin_action",
        "monitoring_changed",
        "message",
        "admin_action",
        "monitoring_changed",
    ]


async def test_admin_and_capture_make_no_blocking_journal_call_on_the_loop(
    journal: SqliteJournal,
) -> None:
    """`on`, `status`, `list` and opt_in capture reach the journal only from worker threads."""
    watch = LoopWatchJournal(journal, threading.get_ident())
    async for h in start_harness(watch, capture_mode="opt_in"):  # type: ignore[arg-type]
        for words in ("on", "status", "list"):
            reply = await h.sender.command(team=TEAM, channel=PUBLIC, user="U0ADMIN01", text=words)
            assert reply.status == 200
        await h.sender.event(envelope(TEAM, plain()))
    assert [r.kind.value for r in journal.iter_records()][-1] == "message"
    assert watch.on_loop == []
