"""Pure translation of Bot API updates (shaped on the documented fields) into records."""

from __future__ import annotations

import json
from typing import Any

from archive.model import AttachmentState, Kind, Record, Source
from bots.telegram.keys import message_key, message_scope
from bots.telegram.sandbox import payloads as p
from bots.telegram.translate import Delivery, translate_update
from tests.bots.telegram.conftest import BOT_ID, NOW

GROUP = p.supergroup()
CHANNEL = p.channel()
ALICE = p.user(501, "Alice", "alice")
BOB = p.user(502, "Bob")
DELIVERY = Delivery(BOT_ID, Source.WEBHOOK, NOW)


def run(kind: str, body: Any, update_id: int = 1000) -> list[Record]:
    raw = json.dumps({"update_id": update_id, kind: body}).encode()
    records = translate_update(raw, json.loads(raw), DELIVERY)
    assert all(r.raw == raw for r in records)
    return records


def one(kind: str, body: Any, update_id: int = 1000) -> Record:
    (record,) = run(kind, body, update_id)
    return record


def test_message_with_reply_topic_forward_and_album() -> None:
    """A message keeps text, reply, topic, forward origin and album id."""
    origin = {"type": "user", "date": p.BASE_DATE - 60, "sender_user": BOB}
    body = p.message(
        GROUP,
        ALICE,
        31,
        "fwd: terms attached",
        reply_to_message=p.message(GROUP, BOB, 30, "send terms"),
        message_thread_id=7,
        is_topic_message=True,
        forward_origin=origin,
        media_group_id="1311",
    )
    record = one("message", body)
    assert record.kind is Kind.MESSAGE
    assert (record.conversation, record.message_id) == (str(GROUP["id"]), "31")
    assert (record.reply_to, record.thread_id) == ("30", "7")
    assert record.details["forward_origin"] == origin
    assert record.details["media_group_id"] == "1311"
    assert record.actor is not None and record.actor.id == "501"
    assert record.workspace == BOT_ID
    assert record.conversation_name == "Deals desk"


def test_edit_keeps_new_version_and_points_at_original() -> None:
    """An edited_message is an edit record of the new text that references the original key."""
    original = p.message(GROUP, ALICE, 32, "Bid 101")
    first = one("message", original)
    edit = one("edited_message", p.edited(original, "Bid 102", edit_date=p.BASE_DATE + 30))
    assert edit.kind is Kind.EDIT
    assert edit.text == "Bid 102"
    assert edit.details["edit_of"] == first.key
    assert edit.key != first.key
    assert edit.occurred_at.timestamp() == p.BASE_DATE + 30


def test_same_message_twice_has_one_key() -> None:
    """The same message in two different updates gets the same key."""
    body = p.message(GROUP, ALICE, 33, "hello")
    assert one("message", body, 1).key == one("message", body, 2).key


def test_channel_posts_and_edits() -> None:
    """channel_post and edited_channel_post become message and edit records."""
    post = p.message(CHANNEL, None, 5, "Morning note", sender_chat=CHANNEL)
    record = one("channel_post", post)
    assert record.kind is Kind.MESSAGE
    assert record.actor is not None and record.actor.id == str(CHANNEL["id"])
    edit = one("edited_channel_post", p.edited(post, "Morning note v2", edit_date=p.BASE_DATE + 9))
    assert edit.kind is Kind.EDIT and edit.details["edit_of"] == record.key


def test_reactions_added_and_removed() -> None:
    """message_reaction is split into added/removed and points at the message."""
    added = one("message_reaction", p.reaction(GROUP, BOB, 31, new=("👍",)))
    assert added.kind is Kind.REACTION_ADDED
    assert added.details["added"] == ["👍"]
    assert added.details["reacts_to"] == message_key(
        message_scope(BOT_ID, GROUP["id"]), GROUP["id"], 31
    )
    removed = one("message_reaction", p.reaction(GROUP, BOB, 31, old=("👍",)), 1001)
    assert removed.kind is Kind.REACTION_REMOVED
    assert removed.details["removed"] == ["👍"]


def test_reaction_count_is_kept_as_other() -> None:
    """message_reaction_count (anonymous totals) is kept as an other record."""
    body = {
        "chat": CHANNEL,
        "message_id": 5,
        "date": p.BASE_DATE,
        "reactions": [{"type": {"type": "emoji", "emoji": "🔥"}, "total_count": 3}],
    }
    record = one("message_reaction_count", body)
    assert record.kind is Kind.OTHER
    assert record.details["update_type"] == "message_reaction_count"
    assert record.message_id == "5"


def test_member_updates() -> None:
    """chat_member and my_chat_member become joined, left or other (promotion)."""
    joined = one("chat_member", p.member_update(GROUP, ALICE, BOB, "left", "member"))
    assert joined.kind is Kind.MEMBER_JOINED and joined.details["member_id"] == 502
    left = one("chat_member", p.member_update(GROUP, ALICE, BOB, "member", "kicked"), 2)
    assert left.kind is Kind.MEMBER_LEFT
    promoted = one("chat_member", p.member_update(GROUP, ALICE, BOB, "member", "administrator"), 3)
    assert promoted.kind is Kind.OTHER and promoted.details["new_status"] == "administrator"
    bot = p.user(int(BOT_ID), "chatkeeper")
    mine = one("my_chat_member", p.member_update(GROUP, ALICE, bot, "left", "administrator"), 4)
    assert mine.kind is Kind.MEMBER_JOINED
    assert mine.details["update_type"] == "my_chat_member"


def test_service_messages() -> None:
    """Joins, leaves, title and photo changes and pins are recognized."""
    cases = {
        Kind.MEMBER_JOINED: {"new_chat_members": [BOB]},
        Kind.MEMBER_LEFT: {"left_chat_member": BOB},
        Kind.CONVERSATION_RENAMED: {"new_chat_title": "Deals desk EU"},
        Kind.PIN_ADDED: {"pinned_message": p.message(GROUP, BOB, 30, "pin me")},
        Kind.OTHER: {
            "new_chat_photo": [{"file_id": "x", "file_unique_id": "y", "width": 1, "height": 1}]
        },
    }
    for n, (kind, extra) in enumerate(cases.items()):
        record = one("message", p.message(GROUP, ALICE, 40 + n, **extra))
        assert record.kind is kind
        assert record.details["service"] == next(iter(extra))
        assert record.attachments == ()
    renamed = one("message", p.message(GROUP, ALICE, 50, new_chat_title="Deals desk EU"))
    assert renamed.details["new_name"] == "Deals desk EU"
    photo_gone = one("message", p.message(GROUP, ALICE, 51, delete_chat_photo=True))
    assert photo_gone.details["service"] == "delete_chat_photo"


def test_media_largest_photo_and_files() -> None:
    """The largest photo size and each media file become pending attachments."""
    photo = {"file_id": "P1", "file_unique_id": "UP1", "file_size": 200_000}
    record = one(
        "message", p.message(GROUP, ALICE, 60, photo=p.photo_sizes(photo), caption="chart")
    )
    (attachment,) = record.attachments
    assert attachment.state is AttachmentState.PENDING
    assert attachment.ref == "UP1" and attachment.size == 200_000
    assert record.text == "chart"
    gif = {
        "file_id": "A",
        "file_unique_id": "UA",
        "file_name": "deal.mp4",
        "mime_type": "video/mp4",
    }
    both = one("message", p.message(GROUP, ALICE, 61, animation=gif, document=gif))
    assert [a.name for a in both.attachments] == ["deal.mp4"]
    voice = {"file_id": "V", "file_unique_id": "UV", "mime_type": "audio/ogg", "duration": 3}
    assert (
        one("message", p.message(GROUP, ALICE, 62, voice=voice)).attachments[0].name
        == "voice-UV.ogg"
    )


def test_business_updates_tie_deletions_to_content() -> None:
    """Business messages are keyed by connection; deletions reference their keys."""
    chat = p.private(BOB)
    conn = {
        "id": "bc-1",
        "user": ALICE,
        "user_chat_id": 501,
        "date": p.BASE_DATE,
        "is_enabled": True,
    }
    connection = one("business_connection", conn)
    assert connection.kind is Kind.OTHER and connection.details["business_connection_id"] == "bc-1"
    body = p.message(chat, BOB, 8, "can you do 5m?", business_connection_id="bc-1")
    message = one("business_message", body)
    assert message.kind is Kind.MESSAGE and message.details["business_connection_id"] == "bc-1"
    assert message.key != one("message", p.message(chat, BOB, 8, "can you do 5m?")).key
    edit = one(
        "edited_business_message", p.edited(body, "can you do 6m?", edit_date=p.BASE_DATE + 5)
    )
    assert edit.details["edit_of"] == message.key
    deleted = run(
        "deleted_business_messages",
        {"business_connection_id": "bc-1", "chat": chat, "message_ids": [8, 9]},
    )
    assert [d.kind for d in deleted] == [Kind.DELETE, Kind.DELETE]
    assert deleted[0].details["deletes"] == message.key
    assert len({d.key for d in deleted}) == 2


def test_private_chat_keys_are_per_bot() -> None:
    """Private-chat message ids are per bot, supergroup ids are shared by all readers."""
    assert message_scope(BOT_ID, 501) == f"bot:{BOT_ID}"
    assert message_scope(BOT_ID, -4001) == f"bot:{BOT_ID}"
    assert message_scope(BOT_ID, GROUP["id"]) == "chat"


def test_unknown_update_is_other() -> None:
    """An update type this version does not know is kept as other, chat found if present."""
    record = one("brand_new_update", {"chat": GROUP, "message_id": 3, "date": p.BASE_DATE})
    assert record.kind is Kind.OTHER
    assert record.details["update_type"] == "brand_new_update"
    assert record.conversation == str(GROUP["id"])
    poll = one("poll_answer", {"poll_id": "9", "user": BOB, "option_ids": [0]})
    assert poll.kind is Kind.OTHER and poll.conversation == "" and poll.actor is not None


def test_malformed_known_update_is_kept_as_other() -> None:
    """A known update type with missing fields is kept as other with its raw bytes, not dropped."""
    record = one("chat_member", {"chat": GROUP, "date": p.BASE_DATE})
    assert record.kind is Kind.OTHER
    assert record.details["translate_error"] == "KeyError"
    assert record.details["update_type"] == "chat_member"
