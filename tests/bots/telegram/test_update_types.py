"""Every update type end to end: fake Bot API -> webhook -> real Application -> journal."""

from __future__ import annotations

from typing import Any

from archive.journal.sqlite import SqliteJournal
from archive.model import Kind, Record
from bots.telegram.sandbox import payloads as p
from bots.telegram.sandbox.fake_api import FakeBotApi
from tests.bots.telegram.conftest import Starter

GROUP = p.supergroup()
FORUM = p.supergroup(-1001999000111, "Desk topics") | {"is_forum": True}
CHANNEL = p.channel()
ALICE = p.user(501, "Alice", "alice")
BOB = p.user(502, "Bob", "bob")
DM = p.private(BOB)


def _script(fake: FakeBotApi) -> list[tuple[str, dict[str, Any], Kind]]:
    original = p.message(GROUP, ALICE, 1, "Bid 101")
    post = p.message(CHANNEL, None, 7, "Note", sender_chat=CHANNEL)
    business = p.message(DM, BOB, 3, "5m?", business_connection_id="bc-9")
    photo = fake.add_file(b"album photo", name="a.jpg")
    bot = {"id": fake.bot_id, "is_bot": True, "first_name": "chatkeeper"}
    origin = {"type": "channel", "chat": CHANNEL, "message_id": 7, "date": p.BASE_DATE}
    connection = {
        "id": "bc-9",
        "user": BOB,
        "user_chat_id": 502,
        "date": p.BASE_DATE,
        "is_enabled": True,
    }
    count = {"chat": CHANNEL, "message_id": 7, "date": p.BASE_DATE, "reactions": []}
    return [
        ("message", original, Kind.MESSAGE),
        ("edited_message", p.edited(original, "Bid 102", edit_date=p.BASE_DATE + 9), Kind.EDIT),
        ("channel_post", post, Kind.MESSAGE),
        ("edited_channel_post", p.edited(post, "Note v2", edit_date=p.BASE_DATE + 9), Kind.EDIT),
        ("message_reaction", p.reaction(GROUP, BOB, 1, new=("👍",)), Kind.REACTION_ADDED),
        ("message_reaction_count", count, Kind.OTHER),
        ("chat_member", p.member_update(GROUP, ALICE, BOB, "left", "member"), Kind.MEMBER_JOINED),
        (
            "my_chat_member",
            p.member_update(GROUP, ALICE, bot, "member", "administrator"),
            Kind.OTHER,
        ),
        ("message", p.message(GROUP, ALICE, 2, new_chat_members=[BOB]), Kind.MEMBER_JOINED),
        ("message", p.message(GROUP, BOB, 3, left_chat_member=BOB), Kind.MEMBER_LEFT),
        (
            "message",
            p.message(GROUP, ALICE, 4, new_chat_title="Desk EU"),
            Kind.CONVERSATION_RENAMED,
        ),
        ("message", p.message(GROUP, ALICE, 5, delete_chat_photo=True), Kind.OTHER),
        ("message", p.message(GROUP, ALICE, 6, pinned_message=original), Kind.PIN_ADDED),
        ("business_connection", connection, Kind.OTHER),
        ("business_message", business, Kind.MESSAGE),
        (
            "edited_business_message",
            p.edited(business, "6m?", edit_date=p.BASE_DATE + 5),
            Kind.EDIT,
        ),
        (
            "deleted_business_messages",
            {"business_connection_id": "bc-9", "chat": DM, "message_ids": [3]},
            Kind.DELETE,
        ),
        (
            "message",
            p.message(GROUP, ALICE, 8, photo=p.photo_sizes(photo), media_group_id="77"),
            Kind.MESSAGE,
        ),
        (
            "message",
            p.message(GROUP, ALICE, 9, photo=p.photo_sizes(photo), media_group_id="77"),
            Kind.MESSAGE,
        ),
        ("message", p.message(GROUP, BOB, 10, "fwd", forward_origin=origin), Kind.MESSAGE),
        ("message", p.message(GROUP, BOB, 11, "ok", reply_to_message=original), Kind.MESSAGE),
        (
            "message",
            p.message(FORUM, BOB, 12, "in topic", message_thread_id=4, is_topic_message=True),
            Kind.MESSAGE,
        ),
        ("guest_summon", {"chat": GROUP, "date": p.BASE_DATE}, Kind.OTHER),
    ]


async def test_every_update_type_is_journaled(
    fake: FakeBotApi, journal: SqliteJournal, webhook_server: Starter
) -> None:
    """Each update type becomes the expected record, with its exact bytes, via the webhook."""
    await webhook_server()
    script = _script(fake)
    ids = [await fake.push(kind, body, force=kind == "guest_summon") for kind, body, _ in script]
    assert all(ids)
    await fake.wait_drained()
    records = [r for r in journal.iter_records() if r.kind is not Kind.ATTACHMENT_STORED]
    by_update: dict[int, Record] = {r.details["update_id"]: r for r in records}
    assert len(by_update) == len(script)
    for uid, (kind, _, expected) in zip(ids, script, strict=True):
        record = by_update[uid]
        assert (record.details["update_type"], record.kind) == (kind, expected)
        assert record.raw == fake.state.pushed[uid]
    business, deleted = by_update[ids[14]], by_update[ids[16]]
    assert deleted.details["deletes"] == business.key
    assert deleted.details["original_captured"] is True
    assert deleted.previous_text == "5m?"
    album = [by_update[ids[17]], by_update[ids[18]]]
    assert [r.details["media_group_id"] for r in album] == ["77", "77"]
    assert by_update[ids[19]].details["forward_origin"]["type"] == "channel"
    assert by_update[ids[20]].reply_to == "1"
    assert by_update[ids[21]].thread_id == "4"
    assert by_update[ids[22]].details["update_type"] == "guest_summon"
    assert all(status == 200 for _, status in fake.state.webhook_attempts)
