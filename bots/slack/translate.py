"""Pure functions from Slack payloads to records (no I/O); keys from :mod:`bots.slack.keys`."""

from __future__ import annotations

import hashlib
from collections.abc import Mapping
from typing import Any

from archive.model import Attachment, AttachmentState, Kind, Platform, Record
from bots.slack.keys import (
    delete_key,
    edit_key,
    event_key,
    message_key,
    tombstone_key,
    untranslated_key,
)
from bots.slack.payload import (
    Delivery,
    Snapshot,
    actor_for,
    details_for,
    event_actor,
    event_conversation,
    file_attachments,
    mapping_of,
    slack_time,
    text_of,
)

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


def message_record(
    channel: str, message: Mapping[str, Any], delivery: Delivery, snapshot: Snapshot
) -> Record:
    """A message as it lives in a channel (live ``message`` event, history or export)."""
    ts = str(message.get("ts", ""))
    subtype = text_of(message.get("subtype"))
    thread_ts = text_of(message.get("thread_ts"))
    kind = _MESSAGE_KINDS.get(subtype or "", Kind.MESSAGE)
    is_tombstone = subtype == "tombstone"
    user_id = text_of(message.get("user")) or text_of(message.get("bot_id"))
    return Record(
        key=(tombstone_key if is_tombstone else message_key)(delivery.team, channel, ts),
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
        actor=actor_for(snapshot, user_id, message),
        text=text_of(message.get("text")),
        attachments=file_attachments(message.get("files")),
        details=details_for(
            message,
            snapshot,
            tombstone=True if is_tombstone else None,
            bot_id=text_of(message.get("bot_id")),
            topic=text_of(message.get("topic")),
            purpose=text_of(message.get("purpose")),
            name=text_of(message.get("name")),
            old_name=text_of(message.get("old_name")),
            inviter=text_of(message.get("inviter")),
            edited_ts=text_of(mapping_of(message.get("edited")).get("ts")),
            edited_user=text_of(mapping_of(message.get("edited")).get("user")),
        ),
        raw=delivery.raw,
    )


def _changed_record(event: Mapping[str, Any], delivery: Delivery, snapshot: Snapshot) -> Record:
    channel = event_conversation(event)
    new = mapping_of(event.get("message"))
    old = mapping_of(event.get("previous_message"))
    ts = str(new.get("ts") or old.get("ts") or "")
    if new.get("subtype") == "tombstone":  # a thread parent was deleted
        edited_ts = None
        key = tombstone_key(delivery.team, channel, ts)
        kind = Kind.DELETE
    else:
        edited_ts = text_of(mapping_of(new.get("edited")).get("ts"))
        version = edited_ts or str(event.get("event_ts") or event.get("ts") or "")
        key = edit_key(delivery.team, channel, ts, version)
        kind = Kind.EDIT
    thread_ts = text_of(new.get("thread_ts"))
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
        actor=actor_for(snapshot, event_actor(event), new),
        text=text_of(new.get("text")),
        previous_text=text_of(old.get("text")),
        attachments=file_attachments(new.get("files")),
        details=details_for(
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
    old = mapping_of(event.get("previous_message"))
    deleted_ts = str(event.get("deleted_ts") or old.get("ts") or "")
    thread_ts = text_of(old.get("thread_ts"))
    return Record(
        key=delete_key(delivery.team, channel, deleted_ts),
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
        actor=actor_for(snapshot, event_actor(event), old),
        previous_text=text_of(old.get("text")),
        details=details_for(
            event, snapshot, tombstone=True if old.get("subtype") == "tombstone" else None
        ),
        raw=delivery.raw,
    )


def _event_record(event: Mapping[str, Any], delivery: Delivery, snapshot: Snapshot) -> Record:
    event_type = str(event.get("type", ""))
    kind = _EVENT_KINDS.get(event_type, Kind.OTHER)
    item = mapping_of(event.get("item"))
    channel_obj = mapping_of(event.get("channel"))
    name = text_of(channel_obj.get("name"))
    message_id = text_of(item.get("ts")) or text_of(mapping_of(item.get("message")).get("ts"))
    attachments: tuple[Attachment, ...] = ()
    if event_type == "file_shared":
        file_id = text_of(event.get("file_id")) or text_of(mapping_of(event.get("file")).get("id"))
        if file_id:
            attachments = (Attachment(name=file_id, state=AttachmentState.PENDING, ref=file_id),)
    identity = delivery.event_id or str(event.get("event_ts") or "")
    user_id = event_actor(event)
    return Record(
        key=event_key(delivery.team, identity, event_type),
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
        actor=actor_for(snapshot, user_id, event),
        attachments=attachments,
        details=details_for(
            event,
            snapshot,
            reaction=text_of(event.get("reaction")),
            item_type=text_of(item.get("type")),
            item_user=text_of(event.get("item_user")),
            file_id=text_of(event.get("file_id")),
            inviter=text_of(event.get("inviter")),
            name=name,
            archived=_ARCHIVED.get(event_type),
            deleted=True if event_type in {"channel_deleted", "group_deleted"} else None,
        ),
        raw=delivery.raw,
    )


def event_record(envelope: Mapping[str, Any], delivery: Delivery, snapshot: Snapshot) -> Record:
    """The record for one Events API / Socket Mode ``event_callback`` envelope."""
    event = mapping_of(envelope.get("event"))
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


def untranslated_record(
    envelope: Mapping[str, Any], delivery: Delivery, error: Exception
) -> Record:
    """The raw delivery as ``other`` when translation failed (the evidence is kept regardless)."""
    event = mapping_of(envelope.get("event"))
    identity = delivery.event_id or hashlib.sha256(delivery.raw).hexdigest()
    return Record(
        key=untranslated_key(delivery.team, identity),
        platform=Platform.SLACK,
        workspace=delivery.team,
        conversation=event_conversation(event) if isinstance(event.get("channel"), str) else "",
        kind=Kind.OTHER,
        source=delivery.source,
        occurred_at=delivery.event_time or delivery.captured_at,
        captured_at=delivery.captured_at,
        details={"event": str(event.get("type", "")), "translate_error": type(error).__name__},
        raw=delivery.raw,
    )
