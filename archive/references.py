"""How far back a bundle's records refer: the manifest's ``refers_back``.

An edit, a deletion, a reaction, a pin or a settled attachment is its own
record that points at an earlier message, often sealed in a later bundle. A
filtered export of a time range shows an in-range message with all of them,
so it must read every later bundle that holds one. ``refers_back`` lets it
choose those bundles from their manifests: for each conversation, the
platform times of the messages that the bundle's records point at (at most
``MAX_SPANS`` spans of ``[earliest, latest]``), or ``null`` when a target's
time is not known from the record itself. A bundle sealed before the field
existed has none and is always read.

Where a target's time comes from, without asking the journal:

- ``attachment_stored``: the record carries its message's own ``occurred_at``;
- Slack: a message's ``occurred_at`` is the time of its ``ts``, and every
  record about it names that ``ts`` as ``message_id``;
- Telegram edits: the edited message keeps its original ``date``;
- anything else (a Telegram reaction or deletion names only a message id):
  unknown, so the bundle is read for that conversation.

Only rows of these kinds are looked at (the journal's ``kind`` column says
which), so sealing pays nothing for messages, the bulk of any archive; a
Slack row's ``message_id`` is found in its canonical bytes without decoding
them, a Telegram reaction needs no look at all, and only the rare rest
(pins, stored attachments, Telegram edits) is decoded.
"""

from __future__ import annotations

import json
import math
from datetime import UTC, datetime
from typing import Any

from archive.codec import decode_body, format_time, parse_time
from archive.model import TARGETING_KINDS, Kind, Platform, Record, target_of

#: The kinds of ``archive.model.TARGETING_KINDS`` (records that fold into an earlier message).
REFERRING_KINDS = frozenset(kind.value for kind in TARGETING_KINDS)
_TELEGRAM_EDITS = ("edited_message", "edited_channel_post", "edited_business_message")

MAX_SPANS = 8
"""Spans kept per conversation: the times split at the widest gaps, so a late reaction to an
old message stays a point of its own instead of widening one span over everything between."""

Spans = list[list[str]] | None
"""Sorted, disjoint ``[earliest, latest]`` platform times of the messages referred to, or None:
a target's time is unknown."""


class References:
    """Gathers ``refers_back`` over one bundle's rows, one referring row at a time."""

    def __init__(self) -> None:
        self._times: dict[str, set[str] | None] = {}  # None: some target's time is unknown
        self._slack: dict[str, set[bytes]] = {}  # Slack ``ts`` values, made times at the end

    def note(self, conversation: str, kind: str, body: bytes) -> None:
        """One row of a kind in ``REFERRING_KINDS``; ``conversation`` as in the manifest."""
        if conversation in self._times and self._times[conversation] is None:
            return  # already unknown: nothing narrows it again
        if conversation.startswith("slack:"):
            ts = _slack_ts(kind, body)
            if ts is not None:
                if ts:
                    self._slack.setdefault(conversation, set()).add(ts)
                return
        elif conversation.startswith("telegram:") and kind != "edit":
            self._times[conversation] = None  # a Telegram reaction or deletion names an id only
            return
        try:
            found, moment = target_time(decode_body(body))
        except (ValueError, TypeError, KeyError, AttributeError):
            found, moment = True, None  # unreadable here: the export reads the bundle
        if not found:
            return
        known = self._times.get(conversation)
        if moment is None:
            self._times[conversation] = None
        elif known is None:
            self._times[conversation] = {moment}
        else:
            known.add(moment)

    def absorb(self, other: References) -> None:
        """Take in what ``other`` gathered (a frame's references into its bundle's)."""
        for conversation, times in other._times.items():
            known = self._times.get(conversation, set())
            if times is None or known is None:
                self._times[conversation] = None
            else:
                self._times[conversation] = known | times
        for conversation, stamps in other._slack.items():
            self._slack.setdefault(conversation, set()).update(stamps)

    def manifest_field(self, join: float = 0.0) -> dict[str, Spans]:
        """The manifest's ``refers_back``: conversation -> spans, or null when unknown;
        gaps of ``join`` seconds or less never split a span (``spans_of``)."""
        field: dict[str, Spans] = {}
        for conversation in sorted(self._times.keys() | self._slack.keys()):
            times = self._times.get(conversation, set())
            try:
                if times is None:
                    raise ValueError("a target's time is unknown")
                points: list[Point] = [(parse_time(t).timestamp(), t) for t in times]
                points += [(float(ts), ts) for ts in self._slack.get(conversation, ())]
                if not all(math.isfinite(point[0]) for point in points):
                    raise ValueError("not a time")
                field[conversation] = spans_of(points, join=join)
            except (ValueError, OverflowError, OSError):
                field[conversation] = None
        return field


Point = tuple[float, str | bytes]
"""A message time: (seconds since the epoch, for ordering; the exact canonical time, or the
Slack ``ts`` it is the time of)."""
_NEAR = 1e-5  # seconds: how far a float may be off from the exact time it orders


def spans_of(points: list[Point], limit: int = MAX_SPANS, join: float = 0.0) -> list[list[str]]:
    """The times as at most ``limit`` spans, split at the widest gaps longer than ``join``
    seconds (a shorter gap never splits: spans only ever widen, so nothing is left out).

    Only the ends of each span are formatted; as ordering by float may be off by a
    fraction of a microsecond, each end is the extreme of the exact times near it.
    """
    ordered = sorted(set(points), key=lambda point: point[0])
    keys = [point[0] for point in ordered]
    gaps = [i for i in range(1, len(keys)) if keys[i] - keys[i - 1] > max(join, _NEAR)]
    gaps.sort(key=lambda i: (keys[i - 1] - keys[i], i))
    splits = sorted(gaps[: limit - 1])
    spans = []
    for first, last in zip([0, *splits], [*(i - 1 for i in splits), len(keys) - 1], strict=True):
        low = [_exact(p) for p in ordered[first : last + 1] if p[0] - keys[first] <= _NEAR]
        high = [_exact(p) for p in ordered[first : last + 1] if keys[last] - p[0] <= _NEAR]
        spans.append([min(low), max(high)])
    return spans


def _exact(point: Point) -> str:
    exact = point[1]
    if isinstance(exact, str):
        return exact
    return format_time(datetime.fromtimestamp(float(exact), tz=UTC))


_BY_MESSAGE_ID = REFERRING_KINDS - {"attachment_stored", "pin_added", "pin_removed"}
_MARKERS = {kind: f'"kind":"{kind}","message_id":'.encode() for kind in _BY_MESSAGE_ID}


def _slack_ts(kind: str, body: bytes) -> bytes | None:
    """A Slack row's ``message_id`` read without decoding the row: ``b""`` when it is
    null, None when the row must be decoded instead (another kind, an escape).

    In a canonical body the top-level ``kind`` and ``message_id`` are adjacent, and
    nothing after them is an object, so the last unescaped ``"kind":"edit",
    "message_id":`` is the record's own (one inside ``details`` comes earlier, and a
    quote inside a string is always escaped).
    """
    marker = _MARKERS.get(kind, b"")
    at = body.rfind(marker) if marker else -1
    if at < 0:
        return None
    start = at + len(marker)
    if body.startswith(b"null", start):
        return b""
    end = body.find(b'"', start + 1)
    if body[start : start + 1] != b'"' or end <= start + 1 or b"\\" in body[start:end]:
        return None
    return body[start + 1 : end]


def _slack_time(ts: str) -> str | None:
    """The ``occurred_at`` of the Slack message whose ``ts`` this is, or None."""
    try:
        return format_time(datetime.fromtimestamp(float(ts), tz=UTC))
    except (ValueError, OverflowError, OSError):
        return None


def target_time(record: Record) -> tuple[bool, str | None]:
    """(refers to a message, that message's ``occurred_at`` or None when unknown)."""
    if record.kind is Kind.ATTACHMENT_STORED:
        return True, format_time(record.occurred_at)  # a copy of its message's own time
    target = target_of(record)
    if target is None:
        return False, None  # about no message (a Slack file_shared event, say)
    if record.platform is Platform.SLACK:
        return True, _slack_time(target)
    if record.platform is Platform.TELEGRAM and record.kind is Kind.EDIT:
        return True, _telegram_edit_date(record)
    return True, None


def _telegram_edit_date(record: Record) -> str | None:
    update = json.loads(record.raw)
    for name in _TELEGRAM_EDITS:
        message = update.get(name) if isinstance(update, dict) else None
        if isinstance(message, dict) and isinstance(message.get("date"), int):
            if str(message.get("message_id")) != str(record.message_id):
                return None
            return format_time(datetime.fromtimestamp(message["date"], tz=UTC))
    return None


def field_problems(doc: dict[str, Any]) -> list[str]:
    """What is wrong with a manifest's ``refers_back`` (absent is fine: sealed before it)."""
    if "refers_back" not in doc:
        return []
    value = doc["refers_back"]
    if not isinstance(value, dict) or not all(
        isinstance(conversation, str) and (spans is None or _well_formed(spans))
        for conversation, spans in value.items()
    ):
        return ["manifest field refers_back is malformed"]
    return []


def _well_formed(spans: object) -> bool:
    """A non-empty list of sorted, disjoint ``[earliest, latest]`` pairs of time strings."""
    if not isinstance(spans, list) or not spans:
        return False
    previous = ""
    for span in spans:
        if not (
            isinstance(span, list)
            and len(span) == 2
            and all(isinstance(t, str) for t in span)
            and previous < span[0] <= span[1]
        ):
            return False
        previous = span[1]
    return True
