"""A small archive that exercises every exporter: Slack and Telegram shapes.

It covers edits, deletions, threads, reactions, joins and leaves, stored and
unavailable attachments, unicode (emoji, right-to-left, combining marks), a
very long message and a conversation with no messages. Records carry the
raw payload shapes the platforms send.
"""

from __future__ import annotations

import hashlib
import io
import json
from collections.abc import Iterator, Sequence
from dataclasses import replace
from datetime import UTC, datetime, timedelta
from typing import Any, BinaryIO

from cryptography.hazmat.primitives.asymmetric.ed25519 import Ed25519PrivateKey
from cryptography.hazmat.primitives.serialization import Encoding, PublicFormat

from archive.codec import format_time
from archive.errors import IntegrityError
from archive.keys import PublicKey, Signer, key_id_of
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
from exporters.source import BundleInfo, BundleRecords, BundleSelect

T0 = datetime(2026, 11, 2, 9, 0, tzinfo=UTC)
TEAM = "T0001"
DEALS = "C0DEALS01"
DM = "D0DM00001"
QUIET = "C0QUIET01"
BOT_ID = "7000000001"
TG_GROUP = "-1001234567890"
#: Slack conversation types as live capture records them (``details.conversation_type``).
SLACK_TYPES = {DEALS: "public_channel", QUIET: "public_channel", DM: "im"}

ALICE = Actor("U0ALICE01", "Alice Moreau", "alice@example.com")
BOB = Actor("U0BOB0001", "Bob Åkesson", "bob@example.com")
CAROL = Actor("U0CAROL01", "كارول", None)
ADMIN = Actor("U0ADMIN01", "Dana Admin", "dana@example.com")
TG_IVAN = Actor("111222333", "Ivan Petrov", None)
TG_NOA = Actor("444555666", "נועה", None)

TERM_SHEET = b"%PDF-1.4\n% term sheet v3\n" + bytes(range(256)) * 4
CHART = b"\x89PNG\r\n\x1a\n" + b"chart-pixels" * 50
LONG_TEXT = ("Risk memo paragraph. " * 600).strip()
COMBINING = "Cafe\u0301 re\u0301sume\u0301 — Zalgo: Z\u0351\u0352a\u0353l\u0354g\u0355o"
BLOBS = {hashlib.sha256(data).hexdigest(): data for data in (TERM_SHEET, CHART)}


def _slack_ts(moment: datetime) -> str:
    return f"{moment.timestamp():.6f}"


class _Builder:
    def __init__(self) -> None:
        self.records: list[Record] = []

    def add(
        self,
        platform: Platform,
        conversation: str,
        kind: Kind,
        minutes: float,
        actor: Actor | None,
        *,
        name: str | None,
        message_at: float | None = None,
        text: str | None = None,
        previous: str | None = None,
        thread_at: float | None = None,
        attachments: tuple[Attachment, ...] = (),
        details: dict[str, Any] | None = None,
        message_id: str | None = None,
    ) -> Record:
        moment = T0 + timedelta(minutes=minutes)
        target_at = T0 + timedelta(minutes=message_at if message_at is not None else minutes)
        slack = platform is Platform.SLACK
        workspace = TEAM if slack else BOT_ID
        if message_id is None and kind not in (Kind.MEMBER_JOINED, Kind.MEMBER_LEFT):
            message_id = _slack_ts(target_at) if slack else str(1000 + int(message_at or minutes))
        if kind in (Kind.MONITORING_CHANGED, Kind.ADMIN_ACTION):
            message_id = None
        thread = None
        if thread_at is not None:
            thread = (
                _slack_ts(T0 + timedelta(minutes=thread_at))
                if slack
                else str(1000 + int(thread_at))
            )
        n = len(self.records) + 1
        payload = {
            "type": kind.value,
            "channel": conversation,
            "user": actor.id if actor else None,
            "text": text,
            "ts": _slack_ts(moment),
            "n": n,
        }
        record = Record(
            key=record_key(platform.value, workspace, conversation, kind.value, n),
            platform=platform,
            workspace=workspace,
            conversation=conversation,
            conversation_name=name,
            kind=kind,
            source=Source.EVENTS_API if slack else Source.WEBHOOK,
            occurred_at=moment,
            captured_at=moment + timedelta(milliseconds=250),
            raw=json.dumps(payload, ensure_ascii=False).encode(),
            message_id=message_id,
            thread_id=thread,
            reply_to=thread if not slack else None,
            actor=actor,
            text=text,
            previous_text=previous,
            attachments=attachments,
            details=_details(platform, conversation, details),
            seq=n,
        )
        self.records.append(record)
        return record


def _details(
    platform: Platform, conversation: str, details: dict[str, Any] | None
) -> dict[str, Any]:
    found = dict(details or {})
    kind = SLACK_TYPES.get(conversation) if platform is Platform.SLACK else None
    if kind is not None:
        found.setdefault("conversation_type", kind)
    return found


def _stored(data: bytes, name: str, mime: str, ref: str) -> Attachment:
    sha = hashlib.sha256(data).hexdigest()
    return Attachment(name, AttachmentState.STORED, sha, mime, len(data), ref=ref)


def archive_records() -> list[Record]:
    """The records of the sample archive, in seq order."""
    b = _Builder()
    s, t = Platform.SLACK, Platform.TELEGRAM
    d = "deals"
    b.add(s, DEALS, Kind.MONITORING_CHANGED, 0, ADMIN, name=d, text="on", details={"enabled": True})
    b.add(s, DEALS, Kind.MEMBER_JOINED, 1, BOB, name=d)
    b.add(
        s,
        DEALS,
        Kind.MESSAGE,
        2,
        ALICE,
        name=d,
        text="Morning all 👋 — term sheet attached",
        attachments=(_stored(TERM_SHEET, "term-sheet v3.pdf", "application/pdf", "F0TERM01"),),
    )
    b.add(
        s, DEALS, Kind.MESSAGE, 3, BOB, name=d, text="Price is 101.5, firm until noon", thread_at=3
    )
    b.add(s, DEALS, Kind.MESSAGE, 4, CAROL, name=d, text="مرحبا، السعر جيد", thread_at=3)
    b.add(
        s,
        DEALS,
        Kind.EDIT,
        5,
        BOB,
        name=d,
        message_at=3,
        text="Price is 101.25, firm until noon",
        previous="Price is 101.5, firm until noon",
    )
    b.add(
        s,
        DEALS,
        Kind.REACTION_ADDED,
        6,
        ALICE,
        name=d,
        message_at=3,
        details={"reaction": "thumbsup"},
    )
    b.add(
        s,
        DEALS,
        Kind.REACTION_ADDED,
        7,
        CAROL,
        name=d,
        message_at=3,
        details={"reaction": "thumbsup"},
    )
    b.add(
        s,
        DEALS,
        Kind.REACTION_ADDED,
        7.5,
        CAROL,
        name=d,
        message_at=3,
        details={"reaction": "eyes"},
    )
    b.add(
        s,
        DEALS,
        Kind.REACTION_REMOVED,
        8,
        CAROL,
        name=d,
        message_at=3,
        details={"reaction": "eyes"},
    )
    b.add(s, DEALS, Kind.MESSAGE, 9, BOB, name=d, text="Call me on my personal phone instead")
    b.add(
        s,
        DEALS,
        Kind.DELETE,
        10,
        BOB,
        name=d,
        message_at=9,
        previous="Call me on my personal phone instead",
    )
    b.add(s, DEALS, Kind.MESSAGE, 11, ALICE, name=d, text=LONG_TEXT)
    b.add(s, DEALS, Kind.MESSAGE, 12, CAROL, name=d, text=COMBINING, thread_at=3)
    b.add(
        s,
        DEALS,
        Kind.MESSAGE,
        13,
        ALICE,
        name=d,
        text="chart for the deck",
        attachments=(
            Attachment(
                "huge-model.xlsx",
                AttachmentState.TOO_LARGE,
                None,
                "application/vnd.ms-excel",
                734_003_200,
                "over the 100 MB limit",
                "F0HUGE01",
            ),
        ),
    )
    b.add(
        s,
        DEALS,
        Kind.EDIT,
        14,
        ALICE,
        name=d,
        message_at=13,
        text="chart for the deck (v2) <b>bold?</b>",
        previous="chart for the deck",
    )
    b.add(
        s,
        DEALS,
        Kind.EDIT,
        15,
        ALICE,
        name=d,
        message_at=13,
        text="chart for the deck (v3)",
        previous="chart for the deck (v2) <b>bold?</b>",
    )
    b.add(s, DEALS, Kind.MEMBER_LEFT, 16, CAROL, name=d)
    # the next day: a late reply in yesterday's thread, and an edit of yesterday's message
    b.add(
        s,
        DEALS,
        Kind.MESSAGE,
        24 * 60 + 5,
        ALICE,
        name=d,
        text="Following up on yesterday's price",
        thread_at=3,
    )
    b.add(
        s,
        DEALS,
        Kind.EDIT,
        24 * 60 + 6,
        ALICE,
        name=d,
        message_at=2,
        text="Morning all 👋 — term sheet v3 attached",
        previous="Morning all 👋 — term sheet attached",
    )
    # a direct conversation with a chart
    b.add(
        s,
        DM,
        Kind.MESSAGE,
        30,
        ALICE,
        name=None,
        text="can you check the chart? 📈",
        attachments=(_stored(CHART, "chart.png", "image/png", "F0CHART1"),),
    )
    b.add(s, DM, Kind.MESSAGE, 31, BOB, name=None, text="looks right ✅")
    # a monitored channel where nobody said anything
    b.add(
        s,
        QUIET,
        Kind.MONITORING_CHANGED,
        40,
        ADMIN,
        name="quiet-room",
        text="on",
        details={"enabled": True},
    )
    # a Telegram group: reply threads, an edit, emoji reactions, right-to-left text
    g = "Desk Chat 🇫🇷"
    b.add(
        t,
        TG_GROUP,
        Kind.MEMBER_JOINED,
        50,
        TG_IVAN,
        name=g,
        details={"member_id": int(TG_NOA.id), "old_status": "left", "new_status": "member"},
    )
    b.add(t, TG_GROUP, Kind.MESSAGE, 51, TG_IVAN, name=g, text="Привет! Sending the order now")
    b.add(t, TG_GROUP, Kind.MESSAGE, 52, TG_NOA, name=g, text="שלום, קיבלתי", thread_at=51)
    b.add(
        t,
        TG_GROUP,
        Kind.EDIT,
        53,
        TG_IVAN,
        name=g,
        message_at=51,
        text="Привет! Sending the order at 10:00",
        previous=None,
    )
    b.add(
        t,
        TG_GROUP,
        Kind.REACTION_ADDED,
        54,
        TG_NOA,
        name=g,
        message_at=51,
        details={"added": ["🔥"], "removed": []},
    )
    # an edit of a message sent before capture started (not in the archive)
    b.add(
        t,
        TG_GROUP,
        Kind.EDIT,
        55,
        TG_IVAN,
        name=g,
        message_at=55,
        message_id="999",
        text="corrected figure: 42",
        previous="wrong figure: 24",
    )
    return b.records


def bundles_of(records: Sequence[Record], size: int = 10) -> list[list[Record]]:
    return [list(records[i : i + size]) for i in range(0, len(records), size)]


def summary_of(records: Sequence[Record]) -> dict[str, Any]:
    """The manifest fields that select bundles, as sealing writes them."""
    return {
        "first_occurred_at": format_time(min(r.occurred_at for r in records)),
        "last_occurred_at": format_time(max(r.occurred_at for r in records)),
        "conversations": sorted(
            {f"{r.platform.value}:{r.workspace}:{r.conversation}" for r in records}
        ),
    }


def manifest_hash(records: Sequence[Record]) -> str:
    from archive.codec import encode_body

    digest = hashlib.sha256()
    for record in records:
        digest.update(encode_body(record))
    return digest.hexdigest()


class ListBundleSource:
    """Bundles from lists of records; a bundle whose hash is wrong is tampered.

    Each bundle's expected hash is taken at construction (as sealing would
    record it in the manifest); ``tamper`` changes a record afterwards.
    """

    def __init__(self, records: Sequence[Record], size: int = 10) -> None:
        self.bundles = bundles_of(records, size)
        self.expected = [manifest_hash(b) for b in self.bundles]

    def tamper(self, bundle: int, index: int, text: str) -> None:
        self.bundles[bundle - 1][index] = replace(self.bundles[bundle - 1][index], text=text)

    def read_bundles(
        self,
        first: int | None,
        last: int | None,
        allow_unverified: bool,
        select: BundleSelect | None = None,
    ) -> Iterator[BundleRecords]:
        for number, records in enumerate(self.bundles, 1):
            if (first is not None and number < first) or (last is not None and number > last):
                continue
            if select is not None and not select(summary_of(records)):
                yield BundleRecords(BundleInfo(number, self.expected[number - 1]), [])
                continue
            actual = manifest_hash(records)
            ok = actual == self.expected[number - 1]
            if not ok and not allow_unverified:
                raise IntegrityError(f"bundle {number}: records do not match the manifest")
            info = BundleInfo(
                number,
                self.expected[number - 1],
                actual,
                len(records),
                ok,
                None if ok else "records hash mismatch",
            )
            yield BundleRecords(info, list(records))


class DictBlobs:
    """Attachment blobs from a dict keyed by SHA-256."""

    def __init__(self, blobs: dict[str, bytes] | None = None) -> None:
        self.blobs = dict(BLOBS if blobs is None else blobs)

    def open_blob(self, sha256: str) -> BinaryIO | None:
        data = self.blobs.get(sha256)
        return None if data is None else io.BytesIO(data)


EXPORT_TIME = datetime(2026, 11, 20, 12, 0, tzinfo=UTC)


def fixed_signer(seed: bytes) -> Signer:
    """An export signer from a fixed seed (Ed25519 is deterministic: golden signatures)."""
    private = Ed25519PrivateKey.from_private_bytes(hashlib.sha256(seed).digest())
    raw = private.public_key().public_bytes(Encoding.Raw, PublicFormat.Raw)
    return Signer(private, PublicKey(key_id_of(raw), raw))


EXPORT_SIGNER = fixed_signer(b"chatkeeper test export key")
PINNED = {EXPORT_SIGNER.public.key_id: EXPORT_SIGNER.public}


def run(
    fmt: str,
    out: Any,
    *,
    source: Any = None,
    blobs: Any = None,
    at: datetime = EXPORT_TIME,
    workers: int = 1,
    signer: Signer = EXPORT_SIGNER,
    stream_problems: Sequence[str] = (),
    **request: Any,
) -> Any:
    """Run one export of the sample archive with fixed custody facts, signed by ``signer``."""
    from exporters.pipeline import ExportRequest, run_export

    return run_export(
        source if source is not None else ListBundleSource(archive_records()),
        blobs if blobs is not None else DictBlobs(),
        ExportRequest(fmt, **request),
        out,
        generator="chatkeeper 0.1.0",
        tool_version="0.1.0",
        operator="officer@example.com",
        now=lambda: at,
        signer=signer,
        stream_problems=stream_problems,
        workers=workers,
    )
