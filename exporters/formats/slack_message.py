"""Slack message objects for folded messages and events, as Slack's own export writes them.

A message has ``type``, ``user``, ``team``, ``text``, ``ts``, ``user_profile``;
a thread parent carries ``thread_ts`` (its own ``ts``), ``reply_count``,
``reply_users``, ``reply_users_count``, ``latest_reply`` and ``replies``; a
reply carries ``thread_ts`` (its parent's) and ``parent_user_id``. An edited
message has Slack's ``edited`` field; a pinned one ``pinned_to``; reactions and
files are Slack's ``reactions`` and ``files``.

Slack's format has no place for edit history or deletion, and viewers show
neither, so an edited or deleted message also gets a red or amber message
attachment that every viewer renders ("Deleted by … at …", "Edited N
times …"); a deleted message keeps its last text. The full history (every
edit, the deletion, the archive record) is kept under a ``chatkeeper`` key
that Slack-reading tools ignore and chatkeeper's importer reads back.
Joins, leaves, renames and archives are Slack's ``channel_*`` messages with
the archived text; a pin of a message that is not in the export is a
``pinned_item`` message, as Slack writes it.
"""

from __future__ import annotations

from datetime import timedelta
from typing import Any

from archive.codec import format_time
from archive.model import Actor, Kind, Platform
from exporters.fold import Event, Message
from exporters.formats.slack_conversation import Shape, message_ts, slack_ts
from exporters.names import actor_label
from exporters.partition import Conversation

_EVENT_SUBTYPES = {
    Kind.MEMBER_JOINED: ("channel_join", "has joined the channel"),
    Kind.MEMBER_LEFT: ("channel_leave", "has left the channel"),
    Kind.CONVERSATION_RENAMED: ("channel_name", "renamed the channel"),
    Kind.CONVERSATION_ARCHIVED: ("channel_archive", "archived the channel"),
}
DELETED_COLOR = "cc0000"
EDITED_COLOR = "e8a400"


def _when(moment: Any) -> str:
    return "an unknown time" if moment is None else moment.strftime("%Y-%m-%d %H:%M:%S UTC")


def _profile(actor: Actor) -> dict[str, str]:
    return {
        "real_name": actor.name or actor.id,
        "display_name": actor.name or "",
        "name": actor.name or actor.id,
    }


def message_object(conversation: Conversation, message: Message, shape: Shape) -> dict[str, Any]:
    """A Slack message object for a folded message."""
    actor = message.actor
    ts = message_ts(conversation, message)
    value: dict[str, Any] = {
        "type": "message",
        "user": actor.id if actor else "",
        "team": conversation.workspace,
        "text": message.text,
        "ts": ts,
    }
    if actor is not None and actor.is_bot:
        value["subtype"] = "bot_message"
    thread = shape.threads.get(ts)
    parent = shape.parent_ts(conversation, message)
    if thread is not None:
        value["thread_ts"] = ts
        value.update(thread.summary())
    elif parent is not None:
        value["thread_ts"] = parent
        parent_user = shape.user_of.get(parent)
        if parent_user:
            value["parent_user_id"] = parent_user
    elif message.thread_id and conversation.platform is Platform.SLACK:
        value["thread_ts"] = message.thread_id
    if actor is not None:
        value["user_profile"] = _profile(actor)
    if message.edits:
        last = message.edits[-1]
        value["edited"] = {"user": last.actor.id if last.actor else "", "ts": slack_ts(last.at)}
    elif message.edited_at is not None:
        editor = message.edited_by
        value["edited"] = {"user": editor.id if editor else "", "ts": slack_ts(message.edited_at)}
    if message.pinned:
        value["pinned_to"] = [conversation.conversation]
    if message.reactions:
        value["reactions"] = [
            {"name": name, "users": [a.id for a in actors], "count": len(actors)}
            for name, actors in sorted(message.reactions.items())
        ]
    if message.attachments:
        value["files"] = [
            {
                "id": a.ref or (a.sha256 or "")[:12] or a.name,
                "name": a.name,
                "title": a.name,
                "mimetype": a.mime or "application/octet-stream",
                "size": a.size or 0,
            }
            for a in message.attachments
        ]
    markers = _markers(message)
    if markers:
        value["attachments"] = markers
    value["chatkeeper"] = _extra(conversation, message)
    return value


def _markers(message: Message) -> list[dict[str, Any]]:
    """Visible notes for what Slack viewers would otherwise hide: deletion and edits."""
    markers: list[dict[str, Any]] = []
    if message.deleted:
        note = f"Deleted by {actor_label(message.deleted_by)} at {_when(message.deleted_at)}"
        markers.append(
            {
                "fallback": f"{note}; the text above is the last text before deletion.",
                "color": DELETED_COLOR,
                "service_name": "chatkeeper archive",
                "author_name": note,
                "text": "The text above is the last text before deletion.",
            }
        )
    if message.forwarded_from:
        note = f"Forwarded from {message.forwarded_from}"
        markers.append(
            {"fallback": note, "service_name": "chatkeeper archive", "author_name": note}
        )
    if message.edited_at is not None and not message.edits:
        note = (
            f"Edited by {actor_label(message.edited_by)} at {_when(message.edited_at)}"
            " (the earlier text is not in the archive)"
        )
        markers.append(
            {
                "fallback": note,
                "color": EDITED_COLOR,
                "service_name": "chatkeeper archive",
                "author_name": note,
            }
        )
    if message.edits:
        times = "once" if len(message.edits) == 1 else f"{len(message.edits)} times"
        last = message.edits[-1]
        note = f"Edited {times}, last by {actor_label(last.actor)} at {_when(last.at)}"
        markers.append(
            {
                "fallback": note,
                "color": EDITED_COLOR,
                "service_name": "chatkeeper archive",
                "author_name": note,
                "fields": [
                    {
                        "title": f"Edit {n} by {actor_label(e.actor)} at {_when(e.at)}",
                        "value": f"before: {e.previous}\nafter: {e.new}",
                        "short": False,
                    }
                    for n, e in enumerate(message.edits, 1)
                ],
            }
        )
    return markers


def _extra(conversation: Conversation, message: Message) -> dict[str, Any]:
    extra: dict[str, Any] = {
        "record_key": message.key,
        "seq": message.seq,
        "bundle": message.bundle,
        "platform": conversation.platform.value,
    }
    if conversation.platform is not Platform.SLACK:
        extra["message_id"] = message.message_id
    if message.edits:
        extra["edits"] = [
            {
                "user": e.actor.id if e.actor else "",
                "at": format_time(e.at),
                "previous": e.previous,
                "new": e.new,
            }
            for e in message.edits
        ]
    if message.deleted:
        extra["deleted"] = True
        extra["deleted_at"] = format_time(message.deleted_at) if message.deleted_at else None
        extra["deleted_by"] = message.deleted_by.id if message.deleted_by else None
    if message.forwarded_from:
        extra["forwarded_from"] = message.forwarded_from
    if message.orphan:
        extra["orphan"] = True
    if not message.verified:
        extra["verified"] = False
    return extra


def pin_object(conversation: Conversation, message: Message) -> dict[str, Any]:
    """A pin of a message that is not in the export, as Slack's ``pinned_item`` message."""
    pinner = message.pinned_by
    user = pinner.id if pinner else ""
    moment = message.pinned_at or message.occurred_at
    value: dict[str, Any] = {
        "type": "message",
        "subtype": "pinned_item",
        "user": user,
        "team": conversation.workspace,
        "text": f"<@{user}> pinned a message to this channel.",
        "ts": slack_ts(moment),
        "item_type": "C",
    }
    if pinner is not None:
        value["user_profile"] = _profile(pinner)
    value["chatkeeper"] = {
        "record_key": message.key,
        "seq": message.seq,
        "bundle": message.bundle,
        "platform": conversation.platform.value,
        "pinned_message": message.message_id,
    }
    return value


def event_objects(conversation: Conversation, event: Event) -> list[dict[str, Any]]:
    """Slack's ``channel_*`` messages for a membership or lifecycle event (one per member
    someone else added or removed; none for events Slack's format has no message for)."""
    if event.kind not in _EVENT_SUBTYPES:
        return []
    subjects: list[Actor | None] = [*event.members] or [event.actor]
    return [_event_object(conversation, event, subject, n) for n, subject in enumerate(subjects)]


def _event_object(
    conversation: Conversation, event: Event, subject: Actor | None, index: int
) -> dict[str, Any]:
    subtype, words = _EVENT_SUBTYPES[event.kind]
    user = subject.id if subject else ""
    value: dict[str, Any] = {
        "type": "message",
        "subtype": subtype,
        "user": user,
        "team": conversation.workspace,
        "text": (event.text if not event.members else None) or f"<@{user}> {words}",
        "ts": slack_ts(event.occurred_at + timedelta(microseconds=index)),
    }
    if event.members and event.actor is not None:
        value["inviter"] = event.actor.id
    if event.kind is Kind.CONVERSATION_RENAMED:
        name = event.details.get("name") or event.details.get("new_name") or event.text
        if name:
            value["name"] = name
    value["chatkeeper"] = {
        "record_key": event.key,
        "seq": event.seq,
        "bundle": event.bundle,
        "platform": conversation.platform.value,
    }
    return value
