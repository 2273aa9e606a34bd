"""What a manifest says of its records, computed from them, and the check that it is so.

The seal gathers a bundle's summary (time range, conversations, referenced blobs,
key rotations, archive events, ``refers_back``, each frame's ``refers_back``) from
the journal's columns as it builds the records object (:class:`Summary`). Filtered
exports choose bundles and frames by that summary without reading the records, so a
summary that left something out would drop records from an export without a trace.
``verify`` therefore computes it again from the sealed lines themselves
(:class:`SummaryCheck`), the same way, and reports every field that differs.
"""

from __future__ import annotations

import json
from typing import Any

from archive.codec import canonical_json, format_time, line_body, line_fields, parse_time
from archive.frames import FRAME_JOIN
from archive.journal.port import SealRow
from archive.references import REFERRING_KINDS, References, Spans

EVENT_KINDS = frozenset({"hold_changed", "retention_extended", "disposition"})


def archive_event(body: bytes) -> dict[str, Any] | None:
    """``{"kind","payload"}`` of a chatkeeper hold, retention or disposition record, else None."""
    try:
        doc = json.loads(body)
        if doc.get("platform") != "chatkeeper" or doc.get("kind") not in EVENT_KINDS:
            return None
        payload = json.loads(doc["raw"])
    except (ValueError, KeyError, TypeError, AttributeError):
        return None
    return {"kind": doc["kind"], "payload": payload} if isinstance(payload, dict) else None


_ROTATION_MARK = b'"kind":"key_rotated"'


def rotation_payload(body: bytes) -> dict[str, Any] | None:
    """The raw payload of a ``key_rotated`` record body, else None.

    A cheap byte search first: in canonical JSON the unescaped text
    ``"kind":"key_rotated"`` appears only as a JSON key and value, and the
    parse then checks it is the record's own kind.
    """
    if _ROTATION_MARK not in body:
        return None
    try:
        doc = json.loads(body)
        if doc.get("kind") != "key_rotated" or doc.get("platform") != "chatkeeper":
            return None
        payload = json.loads(doc["raw"])
    except (ValueError, KeyError, TypeError, AttributeError):
        return {"unreadable": True}
    return payload if isinstance(payload, dict) else {"unreadable": True}


class Summary:
    """What a manifest says of its records, gathered a batch of journal rows at a time."""

    def __init__(self) -> None:
        self.first = self.last = ""
        self.conversations: set[str] = set()
        self.blobs: set[str] = set()
        self.rotations: list[dict[str, Any]] = []
        self.events: list[dict[str, Any]] = []
        self.references = References()  # of the frame being built
        self.bundle_references = References()

    def add(self, batch: list[SealRow]) -> None:
        _, _, times, conversations, blob_texts, kinds = zip(*batch, strict=True)
        earliest, latest = min(times), max(times)
        if not self.first or earliest < self.first:
            self.first = earliest
        self.last = max(self.last, latest)
        these = set(conversations)
        self.conversations |= these
        for text in filter(None, blob_texts):
            self.blobs.update(text.split())
        if not REFERRING_KINDS.isdisjoint(kinds):
            for _, body, _, conversation, _, kind in batch:
                if kind in REFERRING_KINDS:
                    self.references.note(conversation, kind, body)
        if any(c.startswith("chatkeeper:") for c in these):
            for _, body, _, conversation, _, _ in batch:
                if conversation.startswith("chatkeeper:"):
                    self._note_chatkeeper(body)

    def end_frame(self) -> dict[str, Spans]:
        """The ``refers_back`` of the frame just built; the bundle's takes it in."""
        field = self.references.manifest_field(join=FRAME_JOIN)
        self.bundle_references.absorb(self.references)
        self.references = References()
        return field

    def _note_chatkeeper(self, body: bytes) -> None:
        payload = rotation_payload(body)
        if payload is not None:
            self.rotations.append(payload)
        event = archive_event(body)
        if event is not None:
            self.events.append(event)


_BATCH = 1024  # rows summed at a time (the summary does not depend on how rows are batched)


def row_of_line(line: bytes) -> SealRow:
    """The journal row a sealed line was made from: the columns the seal summed, read
    from the record's own JSON (``ValueError`` when it is not a record). The body is
    cut out of the line only for the kinds the summary reads it of (references, and
    chatkeeper's own records); it is empty for the rest, the bulk of any archive."""
    try:
        record, seq = line_fields(line)
        conversation = f"{record['platform']}:{record['workspace']}:{record['conversation']}"
        attachments = record["attachments"]
        blobs = (
            " ".join(a["sha256"] for a in attachments if a["sha256"] is not None)
            if attachments
            else ""
        )
        kind, occurred_at = str(record["kind"]), str(record["occurred_at"])
    except (KeyError, TypeError) as exc:
        raise ValueError(f"not a record: {exc!r}") from exc
    wanted = kind in REFERRING_KINDS or conversation.startswith("chatkeeper:")
    return (seq, line_body(line) if wanted else b"", occurred_at, conversation, blobs, kind)


class SummaryCheck:
    """A manifest's summary computed again from its sealed lines, handed over in order.

    ``doc`` is a manifest whose frame table (if any) is well formed. Fields a manifest
    sealed before they existed does not have (``refers_back``) are not compared, nor is
    ``key_rotations``: verify's rotation check compares it already.
    """

    def __init__(self, doc: dict[str, Any], frames: list[dict[str, Any]] | None) -> None:
        self._doc = doc
        self._frames = frames or []
        self._ends: list[int] = []
        total = 0
        for frame in self._frames:
            total += frame["record_count"]
            self._ends.append(total)
        self._summary = Summary()
        self._batch: list[SealRow] = []
        self._count = 0
        self._frame_fields: list[dict[str, Spans]] = []
        self._unreadable: str | None = None

    def add(self, line: bytes) -> None:
        """The next sealed line."""
        if self._unreadable is not None:
            return
        try:
            self._batch.append(row_of_line(line))
        except ValueError:
            self._unreadable = f"record {self._count + 1} cannot be read to check the summary"
            return
        self._count += 1
        frame = len(self._frame_fields)
        if frame < len(self._ends) and self._count == self._ends[frame]:
            self._flush()
            self._frame_fields.append(self._summary.end_frame())
        elif len(self._batch) >= _BATCH:
            self._flush()

    def problems(self) -> list[str]:
        """Every summary field of the manifest that its records do not bear out."""
        if self._unreadable is not None:
            return [self._unreadable]
        self._flush()
        summary, doc = self._summary, self._doc
        summary.end_frame()  # the last (or only) frame's references join the bundle's
        found = []
        first = format_time(parse_time(summary.first)) if summary.first else None
        last = format_time(parse_time(summary.last)) if summary.last else None
        if (doc.get("first_occurred_at"), doc.get("last_occurred_at")) != (first, last):
            found.append("manifest time range differs from its records'")
        if doc.get("conversations") != sorted(summary.conversations):
            found.append("manifest conversations differ from its records'")
        listed = sorted(str(b.get("sha256")) for b in doc.get("blobs", []) if isinstance(b, dict))
        if listed != sorted(summary.blobs):
            found.append("manifest blobs differ from the attachments its records name")
        if not _same(doc.get("archive_events", []), summary.events):
            found.append("manifest archive_events differ from its records'")
        if "refers_back" in doc and not _same(
            doc["refers_back"], summary.bundle_references.manifest_field()
        ):
            found.append("manifest refers_back differs from what its records refer to")
        for index, (frame, field) in enumerate(
            zip(self._frames, self._frame_fields, strict=False)  # fewer: a count problem
        ):
            if not _same(frame["refers_back"], field):
                found.append(f"records frame {index} refers_back differs from its records'")
        return found

    def _flush(self) -> None:
        if self._batch:
            self._summary.add(self._batch)
            self._batch = []


def _same(stated: object, computed: object) -> bool:
    """Equal as JSON values (a manifest holds lists where the summary may hold tuples)."""
    try:
        return canonical_json(stated) == canonical_json(computed)
    except (TypeError, ValueError):
        return False
