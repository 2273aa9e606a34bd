"""The RSMF 2.0.0 manifest of one conversation slice, built event by event."""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

from archive.codec import format_time
from archive.model import Actor, AttachmentState, Kind
from exporters.fold import Event, Item, Message
from exporters.names import actor_label, attachment_file_name
from exporters.partition import Conversation
from exporters.service import describe, is_known

UNKNOWN_PARTICIPANT = "unknown"
_EVENT_TYPES = {
    Kind.MEMBER_JOINED: "join",
    Kind.MEMBER_LEFT: "leave",
}


def _custom(pairs: list[tuple[str, str | None]]) -> list[dict[str, str]]:
    return [{"name": name, "value": value} for name, value in pairs if value]


class ManifestBuilder:
    """Collects participants, events and attachment files for one slice."""

    def __init__(
        self,
        conversation: Conversation,
        collection_id: str,
        text: Callable[[str], str] | None = None,
    ) -> None:
        self.conversation = conversation
        self.text = text or (lambda value: value)
        self.collection_id = collection_id
        self.participants: dict[str, dict[str, Any]] = {}
        self.events: list[dict[str, Any]] = []
        self.files: dict[str, tuple[str, int | None]] = {}  # zip name -> (sha256, size)
        self._ids: set[str] = set()
        self.first: str | None = None
        self.last: str | None = None

    def participant(self, actor: Actor | None) -> str:
        """Register ``actor`` and return its participant id."""
        if actor is None:
            self.participants.setdefault(
                UNKNOWN_PARTICIPANT, {"id": UNKNOWN_PARTICIPANT, "display": "unknown"}
            )
            return UNKNOWN_PARTICIPANT
        if actor.id not in self.participants:
            entry: dict[str, Any] = {
                "id": actor.id,
                "display": actor.name or actor.id,
                "account_id": actor.id,
            }
            if actor.email:
                entry["email"] = actor.email
            entry["custom"] = _custom(
                [
                    ("platform", self.conversation.platform.value),
                    ("bot", "yes" if actor.is_bot else None),
                ]
            )
            self.participants[actor.id] = entry
        elif actor.name and self.participants[actor.id]["display"] == actor.id:
            self.participants[actor.id]["display"] = actor.name  # first seen by id only
        return actor.id

    def add(self, item: Item) -> None:
        stamp = format_time(item.occurred_at)
        self.first = self.first or stamp
        self.last = stamp
        if isinstance(item, Message) and item.pin_only:
            self.events.append(self._pin(item, stamp))
        elif isinstance(item, Message):
            self.events.append(self._message(item, stamp))
        else:
            self.events.extend(self._events(item, stamp))

    def _message(self, message: Message, stamp: str) -> dict[str, Any]:
        event: dict[str, Any] = {
            "id": message.message_id,
            "type": "message",
            "participant": self.participant(message.actor),
            "conversation": self.conversation.conversation,
            "timestamp": stamp,
            "body": self.text(message.text),
        }
        custom: list[tuple[str, str | None]] = [
            ("record_key", message.key),
            ("seq", str(message.seq)),
            ("bundle", None if message.bundle is None else str(message.bundle)),
            ("verified", "yes" if message.verified else "NO"),
            ("markup", message.text if event["body"] != message.text else None),
            ("album", ", ".join(message.album) or None),
        ]
        parent = message.parent_id
        if parent and parent in self._ids:
            event["parent"] = parent
        elif parent:
            custom.append(("thread_parent", parent))
        self._ids.add(message.message_id)
        if message.deleted:
            event["deleted"] = True
            custom.append(
                ("deleted_at", format_time(message.deleted_at) if message.deleted_at else None)
            )
            custom.append(("deleted_by", message.deleted_by.id if message.deleted_by else None))
        if message.orphan:
            custom.append(("orphan", "original message not in this export"))
        if message.pinned:
            custom.append(("pinned", "yes"))
            custom.append(("pinned_by", message.pinned_by.id if message.pinned_by else None))
        if message.forwarded_from:
            custom.append(("forwarded_from", message.forwarded_from))
        if message.edited_at is not None and not message.edits:
            event["edits"] = [
                {
                    "participant": self.participant(message.edited_by),
                    "timestamp": format_time(message.edited_at),
                }
            ]
            custom.append(("edit_history", "not archived: the platform only marked the edit"))
        if message.edits:
            event["edits"] = [
                {
                    "participant": self.participant(edit.actor),
                    "timestamp": format_time(edit.at),
                    "previous": self.text(edit.previous),
                    "new": self.text(edit.new),
                }
                for edit in message.edits
            ]
        if message.reactions:
            event["reactions"] = [
                {
                    "value": name,
                    "count": len(actors),
                    "participants": [self.participant(a) for a in actors],
                }
                for name, actors in sorted(message.reactions.items())
            ]
        attachments = []
        for attachment in message.attachments:
            if attachment.state is AttachmentState.STORED and attachment.sha256:
                name = attachment_file_name(attachment.sha256, attachment.name)
                self.files.setdefault(name, (attachment.sha256, attachment.size))
                entry: dict[str, Any] = {"id": name, "display": attachment.name}
                if attachment.size is not None:
                    entry["size"] = attachment.size
                attachments.append(entry)
            else:
                reason = f": {attachment.reason}" if attachment.reason else ""
                custom.append(
                    (
                        "attachment_not_archived",
                        f"{attachment.name} ({attachment.state.value}{reason})",
                    )
                )
        if attachments:
            event["attachments"] = attachments
        event["custom"] = _custom(custom)
        return event

    def _pin(self, message: Message, stamp: str) -> dict[str, Any]:
        """A pin of a message that is not in this export: who pinned, and which message."""
        return {
            "id": f"e-{message.key[:16]}",
            "type": "history",
            "participant": self.participant(message.pinned_by),
            "conversation": self.conversation.conversation,
            "timestamp": stamp,
            "body": f"{actor_label(message.pinned_by)} pinned message {message.message_id}"
            " (not in this export)",
            "custom": _custom(
                [
                    ("kind", "pin_added"),
                    ("pinned_message", message.message_id),
                    ("record_key", message.key),
                    ("seq", str(message.seq)),
                    ("bundle", None if message.bundle is None else str(message.bundle)),
                ]
            ),
        }

    def _events(self, item: Event, stamp: str) -> list[dict[str, Any]]:
        """One event, or one join/leave per member someone else added or removed."""
        kind = _EVENT_TYPES.get(item.kind) or ("history" if is_known(item) else "unknown")
        subjects = list(item.members) if kind in ("join", "leave") and item.members else [None]
        events = []
        for index, subject in enumerate(subjects):
            ident = item.message_id if item.message_id and not index else None
            event: dict[str, Any] = {
                "id": ident or f"e-{item.key[:16]}" + (f"-{index}" if index else ""),
                "type": kind,
                "participant": self.participant(subject or item.actor),
                "conversation": self.conversation.conversation,
                "timestamp": stamp,
            }
            if ident is not None:
                self._ids.add(ident)  # a Telegram topic's messages are its thread
            if kind in ("history", "unknown"):
                event["body"] = describe(item)
            event["custom"] = _custom(
                [
                    ("kind", item.kind.value),
                    ("by", item.actor.id if subject is not None and item.actor else None),
                    ("record_key", item.key),
                    ("seq", str(item.seq)),
                    ("bundle", None if item.bundle is None else str(item.bundle)),
                    ("text", item.text),
                    *sorted(item.details.items()),
                ]
            )
            events.append(event)
        return events

    def manifest(self) -> dict[str, Any]:
        conversation = self.conversation
        return {
            "version": "2.0.0",
            "participants": list(self.participants.values()),
            "conversations": [
                {
                    "id": conversation.conversation,
                    "display": conversation.display,
                    "platform": conversation.platform.value,
                    "type": "direct" if conversation.is_direct else "channel",
                    "participants": list(self.participants),
                    "custom": _custom([("workspace", conversation.workspace)]),
                }
            ],
            "events": self.events,
            "eventcollectionid": self.collection_id,
        }
