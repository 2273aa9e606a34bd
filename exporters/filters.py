"""Export filters: platform, conversations, time range, participant.

Platform and conversation filters drop records as they are read. Records
before ``--from`` are dropped too (nothing before a message can be part of
its history). The time range and the participant apply to folded messages
and events, so an in-range message keeps the edits and reactions that came
after ``--to``: ``keep_bundle`` finds the later bundles that hold them, and
the frames of those bundles, from the manifests' ``refers_back`` (see
``archive.references`` and ``archive.frames``).
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta
from typing import Any

from archive.codec import parse_time
from archive.frames import frame_table
from archive.model import Actor, Record
from exporters.fold import Item


@dataclass(frozen=True, slots=True)
class Filters:
    """What the officer asked for; empty means everything."""

    platform: str | None = None
    conversations: tuple[str, ...] = ()
    start: datetime | None = None
    end: datetime | None = None
    participant: str | None = None
    first_bundle: int | None = None
    last_bundle: int | None = None

    def keep_record(self, record: Record) -> bool:
        """Cheap filter on the way in."""
        return self._keeps_place(record.platform.value, record.conversation) and (
            self.start is None or record.occurred_at >= self.start
        )

    def keep_fields(self, data: Mapping[str, Any]) -> bool:
        """``keep_record`` on a record's sealed JSON object (``codec.line_fields``)."""
        return self._keeps_place(data["platform"], data["conversation"]) and (
            self.start is None or parse_time(data["occurred_at"]) >= self.start
        )

    def _keeps_place(self, platform: str, conversation: str) -> bool:
        if self.platform is not None and platform != self.platform:
            return False
        return not self.conversations or conversation in self.conversations

    def keep_bundle(self, manifest: dict[str, Any], *, whole_range: bool) -> bool | tuple[int, ...]:
        """Whether a sealed bundle can hold a record this export keeps, from its manifest.

        Platform, conversations and ``--from`` drop records as they are read, so a
        bundle without a matching conversation, or whose newest record is older
        than ``--from``, holds nothing kept. When the range applies to each record
        (``whole_range``, jsonl), a bundle wholly after ``--to`` holds nothing kept
        either. Folding formats keep an in-range message's later edits, deletions
        and reactions: they read such a bundle only when its ``refers_back`` says
        that it holds a record about a message of a selected conversation that may
        be in range (always, for a bundle sealed before ``refers_back`` existed),
        and of a framed records object only the frames whose own ``refers_back``
        says so (the indices returned; ``archive.frames``).
        """
        if (self.platform is not None or self.conversations) and not any(
            self._selects(c) for c in manifest.get("conversations", [])
        ):
            return False
        last = manifest.get("last_occurred_at")
        if self.start is not None and last is not None and parse_time(last) < self.start:
            return False
        first = manifest.get("first_occurred_at")
        if self.end is None or first is None or parse_time(first) < self.end:
            return True
        if whole_range or not self._refers_into_range(manifest.get("refers_back")):
            return False
        frames = frame_table(manifest)
        if frames is None:
            return True
        wanted = tuple(
            i for i, frame in enumerate(frames) if self._refers_into_range(frame.get("refers_back"))
        )
        return True if len(wanted) == len(frames) else wanted or False

    def _selects(self, conversation: object) -> bool:
        """Whether a manifest's ``platform:workspace:conversation`` is one this export selects."""
        parts = str(conversation).split(":", 2)
        return (
            len(parts) == 3
            and (self.platform is None or parts[0] == self.platform)
            and (not self.conversations or parts[2] in self.conversations)
        )

    def _refers_into_range(self, refers_back: object) -> bool:
        """Whether a bundle's ``refers_back`` may point at a kept message (when in doubt, yes)."""
        if not isinstance(refers_back, dict):
            return True  # sealed before refers_back existed (or malformed): read it
        for conversation, spans in refers_back.items():
            if not self._selects(conversation):
                continue
            try:
                for earliest, latest in spans:
                    if (self.end is None or parse_time(earliest) < self.end) and (
                        self.start is None or parse_time(latest) >= self.start
                    ):
                        return True
            except (TypeError, ValueError, AttributeError):
                return True  # null: a target's time is unknown (or malformed)
        return False

    def keeps_every_record(self) -> bool:
        """Whether ``keep_record_fully`` keeps any record (no record-level filter is set)."""
        return (
            self.platform is None
            and not self.conversations
            and self.start is None
            and self.end is None
            and self.participant is None
        )

    def keeps_every_item(self) -> bool:
        """Whether ``keep_item`` keeps every item (no time or participant filter is set)."""
        return self.start is None and self.end is None and self.participant is None

    def keep_item(self, item: Item) -> bool:
        """Filter on folded messages and events (time range, participant)."""
        return self._in_range(item.occurred_at) and self._involves(item.actor)

    def keep_record_fully(self, record: Record) -> bool:
        """All filters on a single record (for formats that do not fold)."""
        return (
            self.keep_record(record)
            and self._in_range(record.occurred_at)
            and self._involves(record.actor)
        )

    def _in_range(self, moment: datetime) -> bool:
        if self.start is not None and moment < self.start:
            return False
        return self.end is None or moment < self.end

    def _involves(self, actor: Actor | None) -> bool:
        wanted = self.participant
        if wanted is None:
            return True
        if actor is None:
            return False
        lowered = wanted.casefold()
        return wanted == actor.id or lowered in {
            (actor.email or "").casefold(),
            (actor.name or "").casefold(),
        }

    def describe(self) -> dict[str, Any]:
        """The filters as JSON values, for the custody manifest."""
        return {
            "platform": self.platform,
            "conversations": sorted(self.conversations),
            "from": _iso(self.start),
            "to": _iso(self.end),
            "participant": self.participant,
            "first_bundle": self.first_bundle,
            "last_bundle": self.last_bundle,
        }


def _iso(moment: datetime | None) -> str | None:
    return None if moment is None else moment.astimezone(UTC).isoformat().replace("+00:00", "Z")


def parse_moment(text: str, *, end_of_day: bool = False) -> datetime:
    """A date (``2026-11-02``) or timestamp, read as UTC when it has no offset.

    With ``end_of_day``, a bare date means the end of that day (for ``--to``).
    """
    try:
        moment = datetime.fromisoformat(text.replace("Z", "+00:00"))
    except ValueError as exc:
        raise ValueError(f"{text!r} is not a date or ISO 8601 timestamp") from exc
    if moment.tzinfo is None:
        moment = moment.replace(tzinfo=UTC)
    if end_of_day and len(text) == 10:
        moment = moment + timedelta(days=1)
    return moment.astimezone(UTC)


def parse_bundle_range(text: str) -> tuple[int | None, int | None]:
    """``7`` -> (7, 7); ``3-9`` -> (3, 9); ``5-`` -> (5, None); ``-4`` -> (None, 4)."""
    first, dash, last = text.strip().partition("-")
    try:
        low = int(first) if first else None
        high = int(last) if last else None
    except ValueError as exc:
        raise ValueError(f"{text!r} is not a bundle number or range like 3-9") from exc
    if not dash:
        high = low
    if (low is not None and low < 1) or (low and high and high < low):
        raise ValueError(f"{text!r} is not a valid bundle range")
    return low, high


def parse_slice(text: str) -> int:
    """``1d``, ``7d``, ``6h`` or ``30m`` as seconds."""
    units = {"d": 86_400, "h": 3_600, "m": 60}
    value, unit = text[:-1], text[-1:].lower()
    if unit not in units or not value.isdigit() or int(value) < 1:
        raise ValueError(f"{text!r} is not a slice like 1d, 6h or 30m")
    return int(value) * units[unit]
