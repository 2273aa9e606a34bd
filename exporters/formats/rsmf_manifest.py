"""The RSMF 2.0.0 manifest of one conversation slice, built event by event."""

from __future__ import annotations

from typing import Any

from archive.codec import format_time
from archive.model import Actor, AttachmentState, Kind
from exporters.fold import Event, Item, Message
from exporters.names import attachment_file_name
from exporters.partition import Conversation

UNKNOWN_PARTICIPANT = "unknown"
_EVENT_TYPES = {
    Kind.MEMBER_JOINED: "join",
    Kind.MEMBER_LEFT: "leave",
    Kind.OTHER: "unknown",
}


def _custom(pairs: list[tuple[str, str | None]]) -> list[dict[str, str]]:
    return [{"name": name, "value": value} for name, value in pairs if value]


class ManifestBuilder:
    """Collects participants, events and attachment files for one slice."""

    def __init__(self, conversation: Conversation, collection_id: str) -> None:
        self.conversation = conversation
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
        return actor.id

    def add(self, item: Item) -> None:
        stamp = format_time(item.occurred_at)
        self.first = self.first or stamp
        self.last = stamp
        if isinstance(item, Message):
            self.events.append(self._message(item, stamp))
        else:
            self.events.append(self._event(item, stamp))

    def _message(self, message: Message, stamp: str) -> dict[str, Any]:
        event: dict[str, Any] = {
            "id": message.message_id,
            "type": "message",
            "participant": self.participant(message.actor),
            "conversation": self.conversation.conversation,
            "timestamp": stamp,
            "body": message.text,
        }
        custom: list[tuple[str, str | None]] = [
            ("record_key", message.key),
            ("seq", str(message.seq)),
            ("bundle", None if message.bundle is None else str(message.bundle)),
            ("verified", "yes" if message.verified else "NO"),
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
        if message.edits:
            event["edits"] = [
                {
                    "participant": self.participant(edit.actor),
                    "timestamp": format_time(edit.at),
                    "previous": edit.previous,
                    "new": edit.new,
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

    def _event(self, item: Event, stamp: str) -> dict[str, Any]:
        kind = _EVENT_TYPES.get(item.kind, "history")
        event: dict[str, Any] = {
            "id": f"e-{item.key[:16]}",
            "type": kind,
            "participant": self.participant(item.member or item.actor),
            "conversation": self.conversation.conversation,
            "timestamp": stamp,
        }
        if kind in ("history", "unknown"):
            event["body"] = item.text or item.kind.value.replace("_", " ")
        event["custom"] = _custom(
            [
                ("kind", item.kind.value),
                ("by", item.actor.id if item.member and item.actor else None),
                ("record_key", item.key),
                ("seq", str(item.seq)),
                ("bundle", None if item.bundle is None else str(item.bundle)),
                *sorted(item.details.items()),
            ]
        )
        return event

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
