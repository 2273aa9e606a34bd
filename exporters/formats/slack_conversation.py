"""What the Slack export needs to know about a whole conversation before writing a day.

Slack's own export puts a thread's summary on its parent (``reply_count``,
``reply_users``, ``replies``) and lists every conversation with its members
and archive state. Those facts come from all of a conversation's records, so
``scan`` folds the conversation once before its day files are written:

- threads: the exported replies of each parent, by the parent's ``ts``;
- ``ts`` of every message (Telegram messages get a Slack-style ``ts`` from
  their time, with the message id in the microseconds so two messages of one
  second never share one);
- members: message senders and the joins and leaves of the membership
  records, in time order (someone who left is no longer a member);
- archive state: the last archive or unarchive record.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from datetime import datetime, timedelta
from typing import Any

from archive.model import Kind, Platform
from exporters.fold import Event, Message
from exporters.partition import Conversation
from exporters.render import RenderContext


def slack_ts(moment: datetime) -> str:
    return f"{moment.timestamp():.6f}"


def message_ts(conversation: Conversation, message: Message) -> str:
    """The message's Slack ``ts``: Slack's own, or one made from a Telegram message's time."""
    if conversation.platform is Platform.SLACK:
        return message.message_id
    micros = int(message.message_id) % 1_000_000 if message.message_id.isdigit() else 0
    return slack_ts(message.occurred_at.replace(microsecond=0) + timedelta(microseconds=micros))


@dataclass
class Thread:
    """The exported replies of one parent message."""

    replies: list[tuple[str, str]] = field(default_factory=list)  # (user, ts) in order

    def summary(self) -> dict[str, Any]:
        users = list(dict.fromkeys(user for user, _ in self.replies))
        return {
            "reply_count": len(self.replies),
            "reply_users_count": len(users),
            "latest_reply": self.replies[-1][1],
            "reply_users": users,
            "replies": [{"user": user, "ts": ts} for user, ts in self.replies],
        }


@dataclass
class Shape:
    """A conversation's threads, message ``ts`` values, members and archive state."""

    ts: dict[str, str] = field(default_factory=dict)  # message id -> ts
    user_of: dict[str, str] = field(default_factory=dict)  # ts -> sender id
    threads: dict[str, Thread] = field(default_factory=dict)  # parent ts -> thread
    members: dict[str, None] = field(default_factory=dict)
    archived: bool = False
    created: float | None = None

    def parent_ts(self, conversation: Conversation, message: Message) -> str | None:
        parent = message.parent_id
        if parent is None:
            return None
        if conversation.platform is Platform.SLACK:
            return parent
        return self.ts.get(parent)


def scan(context: RenderContext, conversation: Conversation) -> Shape:
    """Fold the conversation once (threads from exported messages, membership from all)."""
    shape = Shape()
    keep = context.filters.keep_item
    for number in context.store.slices(conversation):
        for item in context.store.items(conversation, number):
            if isinstance(item, Message):
                _message(conversation, shape, item, keep(item))
            else:
                _event(shape, item)
    return shape


def _message(conversation: Conversation, shape: Shape, message: Message, kept: bool) -> None:
    if message.actor is not None and not message.pin_only:
        shape.members.setdefault(message.actor.id)
    if not kept:
        return
    ts = message_ts(conversation, message)
    shape.ts[message.message_id] = ts
    user = message.actor.id if message.actor else ""
    shape.user_of[ts] = user
    if shape.created is None:
        shape.created = float(ts)
    parent = shape.parent_ts(conversation, message)
    if parent is not None and parent != ts:
        shape.threads.setdefault(parent, Thread()).replies.append((user, ts))


def _event(shape: Shape, event: Event) -> None:
    subjects = event.members or ((event.actor,) if event.actor else ())
    for subject in subjects:
        if event.kind is Kind.MEMBER_JOINED:
            shape.members.setdefault(subject.id)
        elif event.kind is Kind.MEMBER_LEFT:
            shape.members.pop(subject.id, None)
    if event.kind is Kind.CONVERSATION_ARCHIVED:
        shape.archived = event.details.get("archived", "True") != "False"


def conversation_info(conversation: Conversation, folder: str, shape: Shape) -> dict[str, Any]:
    """The entry for channels.json, groups.json, mpims.json or dms.json."""
    members = list(shape.members)
    stamp = int(shape.created) if shape.created else 0
    origin = {"platform": conversation.platform.value, "workspace": conversation.workspace}
    if conversation.access == "im":
        return {
            "id": conversation.conversation,
            "created": stamp,
            "members": members,
            "chatkeeper": origin,
        }
    empty = {"value": "", "creator": "", "last_set": 0}
    info: dict[str, Any] = {
        "id": conversation.conversation,
        "name": folder,
        "created": stamp,
        "creator": members[0] if members else "",
        "is_archived": shape.archived,
        "is_general": False,
        "members": members,
        "topic": empty,
        "purpose": empty,
    }
    if conversation.access != "public":
        info["is_private"] = True
    if conversation.access == "mpim":
        info["is_mpim"] = True
    info["chatkeeper"] = origin
    return info
