"""Admin commands through the real Application, with getChatMember answered by the fake."""

from __future__ import annotations

import threading

from archive.clock import FixedClock
from archive.journal.sqlite import SqliteJournal
from archive.model import Kind, Record
from bots.telegram.application import TelegramRuntime
from bots.telegram.polling import PollingLoop
from bots.telegram.sandbox import payloads as p
from bots.telegram.sandbox.fake_api import FakeBotApi
from tests.bots.loop_watch import LoopWatchJournal
from tests.bots.telegram.conftest import BOT_ID, NOW, RuntimeFactory, settings_for

GROUP = p.supergroup()
ADMIN = p.user(601, "Dana", "dana")
MEMBER = p.user(602, "Eve", "eve")


def admin_actions(journal: SqliteJournal) -> list[Record]:
    return [r for r in journal.iter_records() if r.kind is Kind.ADMIN_ACTION]


def monitored(journal: SqliteJournal) -> bool:
    return journal.is_monitored("telegram", BOT_ID, str(GROUP["id"]))


async def test_administrator_turns_archiving_on(
    fake: FakeBotApi, journal: SqliteJournal, make_runtime: RuntimeFactory
) -> None:
    """/archive_on@bot from an administrator is allowed, recorded, applied and answered."""
    fake.set_member(GROUP["id"], ADMIN, "administrator")
    loop = PollingLoop(await make_runtime(capture_mode="opt_in"))
    await fake.push("message", p.message(GROUP, ADMIN, 70, "/archive_on@chatkeeper_bot"))
    await loop.poll_once()
    (action,) = admin_actions(journal)
    assert action.details == {"command": "on", "allowed": True, "reason": "chat administrator"}
    assert action.actor is not None and action.actor.id == "601"
    assert monitored(journal)
    assert any(r.kind is Kind.MONITORING_CHANGED for r in journal.iter_records())
    checked = [c["user_id"] for c in fake.state.calls("getChatMember")]
    assert checked == [601, fake.bot_id]  # the sender, then the bot's own visibility
    assert "Archiving is on" in fake.state.sent[-1]["text"]
    assert "cannot see all messages" in fake.state.sent[-1]["text"]


async def test_non_admin_is_refused_and_recorded(
    fake: FakeBotApi, journal: SqliteJournal, make_runtime: RuntimeFactory
) -> None:
    """A plain member's /archive_on is refused, recorded as an admin_action, and changes nothing."""
    loop = PollingLoop(await make_runtime(capture_mode="opt_in"))
    await fake.push("message", p.message(GROUP, MEMBER, 71, "/archive_on"))
    await loop.poll_once()
    (action,) = admin_actions(journal)
    assert action.details["allowed"] is False
    assert "not an administrator" in action.details["reason"]
    assert not monitored(journal)
    assert "Only this chat's administrators" in fake.state.sent[-1]["text"]
    # opt_in: the unmonitored chat's messages are not captured, only the audit record
    assert [r.kind for r in journal.iter_records()] == [Kind.ADMIN_ACTION]


async def test_anonymous_admin_and_configured_user(
    fake: FakeBotApi, journal: SqliteJournal, make_runtime: RuntimeFactory
) -> None:
    """sender_chat equal to the chat, and ids in config, count as admins without getChatMember."""
    loop = PollingLoop(await make_runtime(admins=("602",)))
    anonymous = p.message(GROUP, p.ANONYMOUS_ADMIN, 72, "/archive_on", sender_chat=GROUP)
    await fake.push("message", anonymous)
    await fake.push("message", p.message(GROUP, MEMBER, 73, "/archive_off"))
    await loop.poll_once()
    reasons = [a.details["reason"] for a in admin_actions(journal)]
    assert reasons == ["anonymous administrator of this chat", "listed in capture.admin_user_ids"]
    assert [c["user_id"] for c in fake.state.calls("getChatMember")] == [fake.bot_id]
    assert not monitored(journal)


async def test_edited_command_and_other_bot_are_not_executed(
    fake: FakeBotApi, journal: SqliteJournal, make_runtime: RuntimeFactory
) -> None:
    """An edited command and /cmd@otherbot run nothing; a redelivered command is recorded once."""
    fake.set_member(GROUP["id"], ADMIN, "creator")
    loop = PollingLoop(await make_runtime())
    command = p.message(GROUP, ADMIN, 74, "/archive_status")
    await fake.push("message", command)
    await loop.poll_once()
    await fake.push("edited_message", p.edited(command, "/archive_on", edit_date=p.BASE_DATE + 5))
    await fake.push("message", p.message(GROUP, ADMIN, 75, "/archive_on@other_bot"))
    await fake.push("message", command)  # the same command delivered again
    await loop.poll_once()
    (action,) = admin_actions(journal)
    assert action.details["command"] == "status"
    assert not monitored(journal)
    assert len(fake.state.sent) == 1  # the redelivered command is not answered twice


async def test_channel_post_command_from_the_channel(
    fake: FakeBotApi, journal: SqliteJournal, make_runtime: RuntimeFactory
) -> None:
    """A channel's own post /archive_on turns archiving on (channel posts are by its admins)."""
    channel = p.channel()
    loop = PollingLoop(await make_runtime(capture_mode="opt_in"))
    await fake.push("channel_post", p.message(channel, None, 5, "/archive_on", sender_chat=channel))
    await fake.push(
        "channel_post", p.message(channel, None, 6, "/archive_off@other_bot", sender_chat=channel)
    )
    await fake.push(
        "channel_post", p.message(channel, None, 7, "Morning note", sender_chat=channel)
    )
    await loop.poll_once()
    (action,) = admin_actions(journal)
    assert action.details["reason"] == "anonymous administrator of this chat"
    assert journal.is_monitored("telegram", BOT_ID, str(channel["id"]))
    # the post for another bot is ordinary content of the now archived channel
    assert [r.message_id for r in journal.iter_records() if r.kind is Kind.MESSAGE] == ["6", "7"]


async def test_capture_and_admin_make_no_blocking_journal_call_on_the_loop(
    fake: FakeBotApi, journal: SqliteJournal
) -> None:
    """Start, /archive_on and opt_in capture reach the journal only from worker threads."""
    watch = LoopWatchJournal(journal, threading.get_ident())
    fake.set_member(GROUP["id"], ADMIN, "administrator")
    runtime = TelegramRuntime(
        settings_for(fake),
        watch,
        capture_mode="opt_in",
        clock=FixedClock(NOW),  # type: ignore[arg-type]
    )
    await runtime.start()
    try:
        await fake.push("message", p.message(GROUP, ADMIN, 90, "/archive_on"))
        await fake.push("message", p.message(GROUP, MEMBER, 91, "hello"))
        await PollingLoop(runtime).poll_once()
    finally:
        await runtime.stop()
    assert [r.kind for r in journal.iter_records()] == [
        Kind.ADMIN_ACTION,
        Kind.MONITORING_CHANGED,
        Kind.MESSAGE,
    ]
    assert watch.on_loop == []
