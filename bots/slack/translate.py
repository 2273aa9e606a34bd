"""Pure functions from Slack payloads to records (no I/O).

Key scheme (docs/slack.md): anything that is a message in the channel's
history is keyed on where it lives, so live capture, backfill and export
import of the same message collapse into one record:

- message (any subtype that occupies a ``ts``): ``msg|channel|ts``
- edit (``message_changed``): ``edit|channel|ts|edited.ts`` (``event_ts`` if no ``edited``)
- delete (``message_deleted``): ``delete|channel|deleted_ts``
- thread-parent tombstone: ``tombstone|channel|ts``
- every other event: ``event|event_id``, so retries of one delivery are stored once.
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass, field
from datetime import UTC, datetime
from typing import Any

from archive.model import (
    Actor,
    Attachment,
    AttachmentState,
    Kind,
    Platform,
    Record,
    Source,
    record_key,
)

SLACK = Platform.SLACK.value

_MESSAGE_KINDS = {
    "channel_join": Kind.MEMBER_JOINED,
    "group_join": Kind.MEMBER_JOINED,
    "channel_leave": Kind.MEMBER_LEFT,
    "group_leave": Kind.MEMBER_LEFT,
    "channel_name": Kind.CONVERSATION_RENAMED,
    "group_name": Kind.CONVERSATION_RENAMED,
    "channel_archive": Kind.CONVERSATION_ARCHIVED,
    "group_archive": Kind.CONVERSATION_ARCHIVED,
}
_EVENT_KINDS = {
    "reaction_added": Kind.REACTION_ADDED,
    "reaction_removed": Kind.REACTION_REMOVED,
    "pin_added": Kind.PIN_ADDED,
    "pin_removed": Kind.PIN_REMOVED,
    "member_joined_channel": Kind.MEMBER_JOINED,
    "member_left_channel": Kind.MEMBER_LEFT,
    "channel_rename": Kind.CONVERSATION_RENAMED,
    "group_rename": Kind.CONVERSATION_RENAMED,
    "channel_archive": Kind.CONVERSATION_ARCHIVED,
    "group_archive": Kind.CONVERSATION_ARCHIVED,
    "channel_unarchive": Kind.CONVERSATION_ARCHIVED,
    "group_unarchive": Kind.CONVERSATION_ARCHIVED,
    "channel_deleted": Kind.CONVERSATION_ARCHIVED,
    "group_deleted": Kind.CONVERSATION_ARCHIVED,
    "file_shared": Kind.FILE_SHARED,
    "file_deleted": Kind.FILE_DELETED,
}


_ARCHIVED = {
    "channel_archive": True,
    "group_archive": True,
    "channel_unarchive": False,
    "group_unarchive": False,
}


@dataclass(frozen=True, slots=True)
class Snapshot:
    """What identity resolution learned before translating (names, emails, types)."""

    actors: Mapping[str, Actor] = field(default_factory=dict)
    conversation_name: str | None = None
    conversation_type: str | None = None


def slack_time(ts: object) -> datetime | None:
    """A Slack ``ts`` ("1700000000.000100") or epoch seconds as an aware UTC datetime."""
    try:
        return datetime.fromtimestamp(float(str(ts)), tz=UTC)
    except (TypeError, ValueError, OverflowError):
        return None


def _str(value: object) -> str | None:
    return value if isinstance(value, str) and value else None


def _dict(value: object) -> Mapping[str, Any]:
    return value if isinstance(value, Mapping) else {}


def event_conversation(event: Mapping[str, Any]) -> str:
    """The conversation an inner event belongs to ("" for workspace-level events)."""
    channel = event.get("channel")
    if isinstance(channel, str):
        return channel
    if isinstance(channel, Mapping) and isinstance(channel.get("id"), str):
        return str(channel["id"])
    item = _dict(event.get("item"))
    for candidate in (event.get("channel_id"), item.get("channel")):
        if isinstance(candidate, str):
            return candidate
    ids = event.get("channel_ids")
    if isinstance(ids, list) and ids and isinstance(ids[0], str):
        return ids[0]
    return ""


def event_actor(event: Mapping[str, Any]) -> str | None:
    """The user who caused an inner event, if Slack says."""
    if event.get("subtype") == "message_changed":
        edited = _dict(_dict(event.get("message")).get("edited"))
        return _str(edited.get("user")) or _str(_dict(event.get("message")).get("user"))
    if event.get("subtype") == "message_deleted":
        return _str(_dict(event.get("previous_message")).get("user"))
    user = event.get("user")
    if isinstance(user, Mapping):  # user_change carries the whole user object
        return _str(user.get("id"))
    return _str(user) or _str(event.get("user_id")) or _str(event.get("bot_id"))


def file_attachments(files: object) -> tuple[Attachment, ...]:
    """Files referenced by a message, pending download (the ref is the file id, never a URL)."""
    if not isinstance(files, list):
        return ()
    found = []
    for item in files:
        entry = _dict(item)
        file_id = _str(entry.get("id"))
        if file_id is None:
            continue
        size = entry.get("size")
        found.append(
            Attachment(
                name=_str(entry.get("name")) or _str(entry.get("title")) or file_id,
                state=AttachmentState.PENDING,
                mime=_str(entry.get("mimetype")),
                size=size if isinstance(size, int) and size > 0 else None,
                ref=file_id,
            )
        )
    return tuple(found)


def _actor(snapshot: Snapshot, user_id: str | None, message: Mapping[str, Any]) -> Actor | None:
    if user_id is None:
        return None
    known = snapshot.actors.get(user_id)
    if known is not None:
        return known
    is_bot = bool(message.get("bot_id")) or message.get("subtype") == "bot_message"
    return Actor(
        id=user_id, name=_str(_dict(message.get("bot_profile")).get("name")), is_bot=is_bot
    )


def _details(event: Mapping[str, Any], snapshot: Snapshot, **extra: Any) -> dict[str, Any]:
    details: dict[str, Any] = {"event": str(event.get("type", ""))}
    if _str(event.get("subtype")):
        details["subtype"] = event["subtype"]
    if snapshot.conversation_type:
        details["conversation_type"] = snapshot.conversation_type
    elif _str(event.get("channel_type")):
        details["conversation_type"] = event["channel_type"]
    details.update({k: v for k, v in extra.items() if v is not None})
    return details


@dataclass(frozen=True, slots=True)
class Delivery:
    """Where a payload came from: the envelope facts every record needs."""

    team: str
    source: Source
    raw: bytes
    captured_at: datetime
    event_id: str | None = None
    event_time: datetime | None = None


def message_record(
    channel: str, message: Mapping[str, Any], delivery: Delivery, snapshot: Snapshot
) -> Record:
    """A message as it lives in a channel (live ``message`` event, history or export)."""
    ts = str(message.get("ts", ""))
    subtype = _str(message.get("subtype"))
    thread_ts = _str(message.get("thread_ts"))
    kind = _MESSAGE_KINDS.get(subtype or "", Kind.MESSAGE)
    is_tombstone = subtype == "tombstone"
    user_id = _str(message.get("user")) or _str(message.get("bot_id"))
    return Record(
        key=record_key(SLACK, delivery.team, "tombstone" if is_tombstone else "msg", channel, ts),
        platform=Platform.SLACK,
        workspace=delivery.team,
        conversation=channel,
        conversation_name=snapshot.conversation_name,
        kind=Kind.DELETE if is_tombstone else kind,
        source=delivery.source,
        occurred_at=slack_time(ts) or delivery.event_time or delivery.captured_at,
        captured_at=delivery.captured_at,
        message_id=ts,
        thread_id=thread_ts,
        reply_to=thread_ts if thread_ts and thread_ts != ts else None,
        actor=_actor(snapshot, user_id, message),
        text=_str(message.get("text")),
        attachments=file_attachments(message.get("files")),
        details=_details(
            message,
            snapshot,
            tombstone=True if is_tombstone else None,
            bot_id=_str(message.get("bot_id")),
            topic=_str(message.get("topic")),
            purpose=_str(message.get("purpose")),
            name=_str(message.get("name")),
            old_name=_str(message.get("old_name")),
            inviter=_str(message.get("inviter")),
            edited_ts=_str(_dict(message.get("edited")).get("ts")),
        ),
        raw=delivery.raw,
    )


def _changed_record(event: Mapping[str, Any], delivery: Delivery, snapshot: Snapshot) -> Record:
    channel = event_conversation(event)
    new = _dict(event.get("message"))
    old = _dict(event.get("previous_message"))
    ts = str(new.get("ts") or old.get("ts") or "")
    if new.get("subtype") == "tombstone":  # a thread parent was deleted
        edited_ts = None
        key = record_key(SLACK, delivery.team, "tombstone", channel, ts)
        kind = Kind.DELETE
    else:
        edited_ts = _str(_dict(new.get("edited")).get("ts"))
        version = edited_ts or str(event.get("event_ts") or event.get("ts") or "")
        key = record_key(SLACK, delivery.team, "edit", channel, ts, version)
        kind = Kind.EDIT
    thread_ts = _str(new.get("thread_ts"))
    return Record(
        key=key,
        platform=Platform.SLACK,
        workspace=delivery.team,
        conversation=channel,
        conversation_name=snapshot.conversation_name,
        kind=kind,
        source=delivery.source,
        occurred_at=slack_time(edited_ts or event.get("event_ts") or event.get("ts"))
        or delivery.captured_at,
        captured_at=delivery.captured_at,
        message_id=ts,
        thread_id=thread_ts,
        reply_to=thread_ts if thread_ts and thread_ts != ts else None,
        actor=_actor(snapshot, event_actor(event), new),
        text=_str(new.get("text")),
        previous_text=_str(old.get("text")),
        attachments=file_attachments(new.get("files")),
        details=_details(
            event,
            snapshot,
            tombstone=True if kind is Kind.DELETE else None,
            edited_ts=edited_ts,
            edited_by_user=bool(edited_ts),
        ),
        raw=delivery.raw,
    )


def _deleted_record(event: Mapping[str, Any], delivery: Delivery, snapshot: Snapshot) -> Record:
    channel = event_conversation(event)
    old = _dict(event.get("previous_message"))
    deleted_ts = str(event.get("deleted_ts") or old.get("ts") or "")
    thread_ts = _str(old.get("thread_ts"))
    return Record(
        key=record_key(SLACK, delivery.team, "delete", channel, deleted_ts),
        platform=Platform.SLACK,
        workspace=delivery.team,
        conversation=channel,
        conversation_name=snapshot.conversation_name,
        kind=Kind.DELETE,
        source=delivery.source,
        occurred_at=slack_time(event.get("event_ts") or event.get("ts")) or delivery.captured_at,
        captured_at=delivery.captured_at,
        message_id=deleted_ts,
        thread_id=thread_ts,
        reply_to=thread_ts if thread_ts and thread_ts != deleted_ts else None,
        actor=_actor(snapshot, event_actor(event), old),
        previous_text=_str(old.get("text")),
        details=_details(
            event, snapshot, tombstone=True if old.get("subtype") == "tombstone" else None
        ),
        raw=delivery.raw,
    )


def _event_record(event: Mapping[str, Any], delivery: Delivery, snapshot: Snapshot) -> Record:
    event_type = str(event.get("type", ""))
    kind = _EVENT_KINDS.get(event_type, Kind.OTHER)
    item = _dict(event.get("item"))
    channel_obj = _dict(event.get("channel"))
    name = _str(channel_obj.get("name"))
    message_id = _str(item.get("ts")) or _str(_dict(item.get("message")).get("ts"))
    attachments: tuple[Attachment, ...] = ()
    if event_type == "file_shared":
        file_id = _str(event.get("file_id")) or _str(_dict(event.get("file")).get("id"))
        if file_id:
            attachments = (Attachment(name=file_id, state=AttachmentState.PENDING, ref=file_id),)
    identity = delivery.event_id or str(event.get("event_ts") or "")
    user_id = event_actor(event)
    return Record(
        key=record_key(SLACK, delivery.team, "event", identity, event_type),
        platform=Platform.SLACK,
        workspace=delivery.team,
        conversation=event_conversation(event),
        conversation_name=name or snapshot.conversation_name,
        kind=kind,
        source=delivery.source,
        occurred_at=slack_time(event.get("event_ts"))
        or delivery.event_time
        or delivery.captured_at,
        captured_at=delivery.captured_at,
        message_id=message_id,
        actor=_actor(snapshot, user_id, event),
        attachments=attachments,
        details=_details(
            event,
            snapshot,
            reaction=_str(event.get("reaction")),
            item_type=_str(item.get("type")),
            item_user=_str(event.get("item_user")),
            file_id=_str(event.get("file_id")),
            inviter=_str(event.get("inviter")),
            name=name,
            archived=_ARCHIVED.get(event_type),
            deleted=True if event_type in {"channel_deleted", "group_deleted"} else None,
        ),
        raw=delivery.raw,
    )


def event_record(envelope: Mapping[str, Any], delivery: Delivery, snapshot: Snapshot) -> Record:
    """The record for one Events API / Socket Mode ``event_callback`` envelope."""
    event = _dict(envelope.get("event"))
    if event.get("type") == "message":
        subtype = event.get("subtype")
        if subtype == "message_changed":
            return _changed_record(event, delivery, snapshot)
        if subtype == "message_deleted":
            return _deleted_record(event, delivery, snapshot)
        # message_replied (documented to arrive without its subtype) wraps the parent.
        if subtype != "message_replied" and "message" not in event and event.get("ts"):
            return message_record(event_conversation(event), event, delivery, snapshot)
    return _event_record(event, delivery, snapshot)


def delivery_for(
    envelope: Mapping[str, Any], raw: bytes, source: Source, captured_at: datetime
) -> Delivery:
    """Envelope facts: team, event_id, event_time (epoch seconds)."""
    team = _str(envelope.get("team_id")) or _str(envelope.get("context_team_id")) or ""
    return Delivery(
        team=team,
        source=source,
        raw=raw,
        captured_at=captured_at,
        event_id=_str(envelope.get("event_id")),
        event_time=slack_time(envelope.get("event_time")),
    )
