"""Pure functions: one Bot API ``Update`` (raw bytes + parsed JSON) -> Records.

Every record keeps the update's exact bytes in ``raw``. Message updates are
keyed by message identity (see :mod:`bots.telegram.keys`), so a redelivered
update or the same message seen twice is stored once; other updates are keyed
by bot id and ``update_id``. Unknown update types become ``other`` records.
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass, replace
from datetime import datetime
from typing import Any, cast

from archive.model import Kind, Platform, Record, Source
from bots.telegram import payload
from bots.telegram.keys import message_key, message_scope, update_key
from bots.telegram.payload import JSON, chat_name, timestamp, user_actor

MESSAGE_UPDATES = {
    "message": Kind.MESSAGE,
    "channel_post": Kind.MESSAGE,
    "business_message": Kind.MESSAGE,
    "edited_message": Kind.EDIT,
    "edited_channel_post": Kind.EDIT,
    "edited_business_message": Kind.EDIT,
}
_MEMBER_STATUSES = {"creator", "administrator", "member"}


@dataclass(frozen=True, slots=True)
class Delivery:
    """Where an update came from: which bot, by which path, captured when."""

    bot_id: str
    source: Source
    captured_at: datetime


def update_type(update: JSON) -> str:
    """The one optional field of an Update that is set (``other`` if none is known)."""
    return next((name for name in update if name != "update_id"), "other")


def translate_update(raw: bytes, update: JSON, delivery: Delivery) -> list[Record]:
    """Turn one update into records (usually one; one per id for deleted business messages).

    Never raises on an odd payload: an update whose known fields are missing
    or malformed is kept as an ``other`` record with its raw bytes.
    """
    kind_name = update_type(update)
    body = update.get(kind_name)
    try:
        return _translate(raw, update, kind_name, body, delivery)
    except (KeyError, TypeError, ValueError, AttributeError) as exc:
        record = _other_record(raw, update, kind_name, None, delivery)
        details = dict(record.details, translate_error=type(exc).__name__)
        return [replace(record, details=details)]


def _translate(
    raw: bytes, update: JSON, kind_name: str, body: Any, delivery: Delivery
) -> list[Record]:
    if kind_name in MESSAGE_UPDATES and isinstance(body, Mapping):
        return [_message_record(raw, update, kind_name, body, delivery)]
    if kind_name == "message_reaction" and isinstance(body, Mapping):
        return [_reaction_record(raw, update, body, delivery)]
    if kind_name in {"chat_member", "my_chat_member"} and isinstance(body, Mapping):
        return [_member_record(raw, update, kind_name, body, delivery)]
    if kind_name == "deleted_business_messages" and isinstance(body, Mapping):
        return _deleted_records(raw, update, body, delivery)
    return [_other_record(raw, update, kind_name, body, delivery)]


def _base(
    raw: bytes, update: JSON, kind_name: str, delivery: Delivery, chat: JSON | None
) -> dict[str, Any]:
    return {
        "platform": Platform.TELEGRAM,
        "workspace": delivery.bot_id,
        "conversation": str(chat["id"]) if chat else "",
        "conversation_name": chat_name(chat) if chat else None,
        "source": delivery.source,
        "captured_at": delivery.captured_at,
        "raw": raw,
        "details": {"update_type": kind_name, "update_id": update.get("update_id")},
    }


def original_key(delivery: Delivery, message: JSON, business: str | None = None) -> str:
    chat_id = int(message["chat"]["id"])
    scope = message_scope(delivery.bot_id, chat_id, business)
    return message_key(scope, chat_id, int(message["message_id"]))


def _message_record(
    raw: bytes, update: JSON, kind_name: str, message: JSON, delivery: Delivery
) -> Record:
    chat = message["chat"]
    chat_id = int(chat["id"])
    business = message.get("business_connection_id")
    scope = message_scope(delivery.bot_id, chat_id, business)
    edit_date = int(message.get("edit_date", 0)) if MESSAGE_UPDATES[kind_name] is Kind.EDIT else 0
    fields = _base(raw, update, kind_name, delivery, chat)
    details = fields.pop("details")
    details.update(payload.message_details(message))
    if business:
        details["business_connection_id"] = business
    if edit_date:
        details["edit_of"] = message_key(scope, chat_id, int(message["message_id"]))
        details["edit_date"] = edit_date
    reply = message.get("reply_to_message")
    thread = message.get("message_thread_id")
    return Record(
        key=message_key(scope, chat_id, int(message["message_id"]), edit_date),
        kind=payload.message_kind(message, MESSAGE_UPDATES[kind_name]),
        occurred_at=timestamp(edit_date or message.get("date", 0)),
        message_id=str(message["message_id"]),
        thread_id=str(thread) if thread is not None else None,
        reply_to=str(reply["message_id"]) if isinstance(reply, Mapping) else None,
        actor=payload.message_actor(message),
        text=payload.message_text(message),
        attachments=payload.pending_attachments(message),
        details=details,
        **fields,
    )


def _reaction_label(reaction: JSON) -> str:
    kind = reaction.get("type")
    if kind == "emoji":
        return str(reaction.get("emoji"))
    if kind == "custom_emoji":
        return f"custom:{reaction.get('custom_emoji_id')}"
    return str(kind)


def _reaction_record(raw: bytes, update: JSON, body: JSON, delivery: Delivery) -> Record:
    old = [_reaction_label(r) for r in body.get("old_reaction", [])]
    new = [_reaction_label(r) for r in body.get("new_reaction", [])]
    added = [r for r in new if r not in old]
    removed = [r for r in old if r not in new]
    fields = _base(raw, update, "message_reaction", delivery, body["chat"])
    fields["details"].update(added=added, removed=removed, reacts_to=original_key(delivery, body))
    if isinstance(body.get("user"), Mapping):
        actor = user_actor(body["user"])
    elif isinstance(body.get("actor_chat"), Mapping):
        actor = payload.chat_actor(body["actor_chat"])
    else:
        actor = None
    return Record(
        key=update_key(delivery.bot_id, int(update["update_id"])),
        kind=Kind.REACTION_ADDED if added or not removed else Kind.REACTION_REMOVED,
        occurred_at=timestamp(body.get("date", 0)),
        message_id=str(body["message_id"]),
        actor=actor,
        **fields,
    )


def _member_record(
    raw: bytes, update: JSON, kind_name: str, body: JSON, delivery: Delivery
) -> Record:
    old_status = body.get("old_chat_member", {}).get("status")
    new_member = body.get("new_chat_member", {})
    new_status = new_member.get("status")
    was_in = old_status in _MEMBER_STATUSES or body["old_chat_member"].get("is_member", False)
    is_in = new_status in _MEMBER_STATUSES or new_member.get("is_member", False)
    kind = Kind.OTHER
    if is_in and not was_in:
        kind = Kind.MEMBER_JOINED
    elif was_in and not is_in:
        kind = Kind.MEMBER_LEFT
    fields = _base(raw, update, kind_name, delivery, body["chat"])
    fields["details"].update(
        member_id=new_member.get("user", {}).get("id"),
        old_status=old_status,
        new_status=new_status,
    )
    return Record(
        key=update_key(delivery.bot_id, int(update["update_id"])),
        kind=kind,
        occurred_at=timestamp(body.get("date", 0)),
        actor=user_actor(body["from"]) if isinstance(body.get("from"), Mapping) else None,
        **fields,
    )


def _deleted_records(raw: bytes, update: JSON, body: JSON, delivery: Delivery) -> list[Record]:
    chat = body["chat"]
    business = str(body.get("business_connection_id", ""))
    records = []
    for message_id in body.get("message_ids", []):
        fields = _base(raw, update, "deleted_business_messages", delivery, chat)
        deletes = original_key(delivery, {"chat": chat, "message_id": message_id}, business)
        fields["details"].update(business_connection_id=business, deletes=deletes)
        records.append(
            Record(
                key=update_key(delivery.bot_id, int(update["update_id"]), str(message_id)),
                kind=Kind.DELETE,
                occurred_at=delivery.captured_at,  # Telegram sends no deletion time
                message_id=str(message_id),
                **fields,
            )
        )
    return records


def _find_chat(body: Any) -> JSON | None:
    if not isinstance(body, Mapping):
        return None
    if isinstance(body.get("chat"), Mapping) and "id" in body["chat"]:
        return cast(JSON, body["chat"])
    message = body.get("message")
    if isinstance(message, Mapping) and isinstance(message.get("chat"), Mapping):
        return cast(JSON, message["chat"])
    return None


def _other_record(
    raw: bytes, update: JSON, kind_name: str, body: Any, delivery: Delivery
) -> Record:
    chat = _find_chat(body)
    fields = _base(raw, update, kind_name, delivery, chat)
    date = body.get("date") if isinstance(body, Mapping) else None
    if kind_name == "business_connection" and isinstance(body, Mapping):
        fields["conversation"] = str(body.get("user_chat_id", ""))
        fields["details"].update(
            business_connection_id=body.get("id"), is_enabled=body.get("is_enabled")
        )
    if kind_name == "message_reaction_count" and isinstance(body, Mapping):
        fields["details"]["reacts_to"] = original_key(delivery, body)
    actor = None
    if isinstance(body, Mapping):
        for name in ("from", "user"):
            if isinstance(body.get(name), Mapping) and "id" in body[name]:
                actor = user_actor(body[name])
                break
    return Record(
        key=update_key(delivery.bot_id, int(update.get("update_id", -1))),
        kind=Kind.OTHER,
        occurred_at=timestamp(date) if isinstance(date, int) else delivery.captured_at,
        message_id=str(body["message_id"])
        if isinstance(body, Mapping) and "message_id" in body
        else None,
        actor=actor,
        **fields,
    )
