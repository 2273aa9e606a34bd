"""Matters of legal hold: their scope, and their state folded from ``hold_changed`` events.

Pure values, no I/O: ``archive.holds`` acts on them, ``archive.hold_check`` verifies them.
"""

from __future__ import annotations

import json
from collections.abc import Iterable
from dataclasses import dataclass, field
from datetime import datetime
from typing import Any

from archive.codec import format_time, parse_time
from archive.model import Kind, Platform


@dataclass(frozen=True)
class Scope:
    """What a matter covers. Empty dimensions match everything; officer records never match."""

    conversations: tuple[str, ...] = ()
    participants: tuple[str, ...] = ()
    platforms: tuple[str, ...] = ()
    start: datetime | None = None
    end: datetime | None = None

    def to_dict(self) -> dict[str, Any]:
        return {
            "conversations": sorted(self.conversations),
            "participants": sorted(self.participants),
            "platforms": sorted(self.platforms),
            "from": format_time(self.start) if self.start else None,
            "to": format_time(self.end) if self.end else None,
        }

    @classmethod
    def from_dict(cls, doc: dict[str, Any]) -> Scope:
        return cls(
            tuple(doc.get("conversations", [])),
            tuple(doc.get("participants", [])),
            tuple(doc.get("platforms", [])),
            parse_time(doc["from"]) if doc.get("from") else None,
            parse_time(doc["to"]) if doc.get("to") else None,
        )

    def matches(self, conversation_key: str, occurred_at: str, body: bytes) -> bool:
        """Whether one sealed row (``platform:workspace:conversation``) is in scope."""
        platform, _, rest = conversation_key.partition(":")
        conversation = rest.partition(":")[2]
        if platform == Platform.CHATKEEPER.value:
            return False
        if self.platforms and platform not in self.platforms:
            return False
        if self.conversations and not {conversation, conversation_key} & set(self.conversations):
            return False
        if self.start or self.end:
            moment = parse_time(occurred_at)
            if (self.start and moment < self.start) or (self.end and moment > self.end):
                return False
        if self.participants:
            actor = (json.loads(body).get("actor") or {}).get("id")
            if actor not in self.participants:
                return False
        return True


@dataclass
class Matter:
    name: str
    scope: Scope
    created_at: str
    created_by: str
    released_at: str | None = None
    released_by: str | None = None
    objects: dict[tuple[str, str], int | None] = field(default_factory=dict)  # -> bundle

    @property
    def open(self) -> bool:
        return self.released_at is None


def matters_from_events(events: Iterable[dict[str, Any]]) -> dict[str, Matter]:
    """Fold ``hold_changed`` events in seal order into the matters (the last create wins)."""
    matters: dict[str, Matter] = {}
    for event in events:
        if event.get("kind") != Kind.HOLD_CHANGED.value:
            continue
        p = event["payload"]
        name, action = str(p.get("matter")), p.get("action")
        if action == "create":
            matters[name] = Matter(name, Scope.from_dict(p["scope"]), p["at"], p["by"])
        elif name in matters and action == "object_held":
            matters[name].objects[(p["key"], p["version_id"])] = p.get("bundle")
        elif name in matters and action == "object_released":
            matters[name].objects.pop((p["key"], p["version_id"]), None)
        elif name in matters and action == "release":
            matters[name].released_at, matters[name].released_by = p["at"], p["by"]
    return matters
