"""A spill-to-disk partition of records by conversation and time slice.

Records arrive in seq order across all conversations, while every format
renders one conversation slice at a time, each message with its later edits,
deletions and reactions. ``PartitionStore`` writes the records to a temporary
SQLite file as they stream in (memory stays bounded by one insert batch),
then routes each record to the slice of the message it is about and reads a
slice back ordered by message, so folding holds one message at a time.

Records are stored as marshal tuples without their ``raw`` payload: the
renderers never need it, and the jsonl format, which keeps it, streams
records directly.
"""

from __future__ import annotations

import json
import marshal
import sqlite3
from collections.abc import Iterator
from dataclasses import dataclass, replace
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any

from archive.model import (
    Actor,
    Attachment,
    AttachmentState,
    Kind,
    Platform,
    Record,
    Source,
    target_of,
)
from exporters.fold import Item, Row, fold_items

DAY_SECONDS = 86_400
_BATCH = 2_000
_REFERENCE_KEYS = ("record_key", "original_key", "ref_key")

_SCHEMA = """
CREATE TABLE rec (
    conv INTEGER NOT NULL, slice INTEGER NOT NULL, anchor_time INTEGER NOT NULL,
    anchor_seq INTEGER NOT NULL, seq INTEGER NOT NULL, kind TEXT NOT NULL,
    key TEXT NOT NULL, target TEXT, ref_key TEXT, bundle INTEGER,
    verified INTEGER NOT NULL, body BLOB NOT NULL
);
CREATE TABLE msg (
    conv INTEGER NOT NULL, target TEXT NOT NULL, slice INTEGER NOT NULL,
    anchor_time INTEGER NOT NULL, anchor_seq INTEGER NOT NULL,
    PRIMARY KEY (conv, target)
) WITHOUT ROWID;
"""


@dataclass(frozen=True, slots=True)
class Conversation:
    """A conversation seen in the export, with its latest known name."""

    number: int
    platform: Platform
    workspace: str
    conversation: str
    name: str | None
    type: str | None = None  # the platform's conversation type, latest seen on a record

    @property
    def is_direct(self) -> bool:
        """One-to-one chats: Slack DMs (type ``im``, else ``D…``) and Telegram private chats."""
        if self.platform is Platform.SLACK:
            if self.type is not None:
                return self.type == "im"
            return self.conversation.startswith("D")
        return not self.conversation.startswith("-")

    @property
    def access(self) -> str:
        """``public``, ``private``, ``mpim`` or ``im``: who may read the conversation.

        Slack's conversation types decide; a Slack conversation whose type no
        record names is treated as private unless its id is a DM's, so nothing
        confidential is ever presented as public. Telegram private chats are
        ``im`` and every other Telegram chat ``private``.
        """
        if self.is_direct:
            return "im"
        if self.platform is Platform.TELEGRAM:
            return "private"
        return _SLACK_ACCESS.get(self.type or "", "private")

    @property
    def display(self) -> str:
        return self.name or self.conversation


_SLACK_ACCESS = {
    "public_channel": "public",
    "channel": "public",
    "private_channel": "private",
    "group": "private",
    "mpim": "mpim",
    "im": "im",
}
_EPOCH = datetime(1970, 1, 1, tzinfo=UTC)


_ONE_MICROSECOND = timedelta(microseconds=1)
_PLATFORMS = {p.value: p for p in Platform}
_KINDS = {k.value: k for k in Kind}
_SOURCES = {s.value: s for s in Source}
_STATES = {s.value: s for s in AttachmentState}


def micros(moment: datetime) -> int:
    """Microseconds since the epoch, exactly."""
    return (moment - _EPOCH) // _ONE_MICROSECOND


def pack(record: Record, at: int) -> bytes:
    """The record without ``raw``, as marshal bytes of plain values.

    marshal is the fastest serializer of plain tuples in the standard library;
    the bytes only ever travel between this process and its own private
    temporary file, so nothing untrusted is ever loaded.
    """
    actor = record.actor
    return marshal.dumps(
        (
            record.key,
            record.platform.value,
            record.workspace,
            record.conversation,
            record.conversation_name,
            record.kind.value,
            record.source.value,
            at,
            micros(record.captured_at),
            record.message_id,
            record.thread_id,
            record.reply_to,
            None if actor is None else (actor.id, actor.name, actor.email, actor.is_bot),
            record.text,
            record.previous_text,
            tuple(
                (a.name, a.state.value, a.sha256, a.mime, a.size, a.reason, a.ref)
                for a in record.attachments
            ),
            json.dumps(record.details, ensure_ascii=False) if record.details else "",
        )
    )


def unpack(data: bytes, seq: int) -> Record:
    values: tuple[Any, ...] = marshal.loads(data)  # noqa: S302 (our own temporary file)
    actor = values[12]
    return Record(
        key=values[0],
        platform=_PLATFORMS[values[1]],
        workspace=values[2],
        conversation=values[3],
        conversation_name=values[4],
        kind=_KINDS[values[5]],
        source=_SOURCES[values[6]],
        occurred_at=_EPOCH + timedelta(microseconds=values[7]),
        captured_at=_EPOCH + timedelta(microseconds=values[8]),
        raw=b"",
        message_id=values[9],
        thread_id=values[10],
        reply_to=values[11],
        actor=None if actor is None else Actor(*actor),
        text=values[13],
        previous_text=values[14],
        attachments=tuple(Attachment(a[0], _STATES[a[1]], *a[2:]) for a in values[15]),
        details=json.loads(values[16]) if values[16] else {},
        seq=seq,
    )


class PartitionStore:
    """Records partitioned by (conversation, slice) in a temporary SQLite file."""

    def __init__(self, directory: Path, slice_seconds: int = DAY_SECONDS) -> None:
        if slice_seconds < 60:
            raise ValueError("slice must be at least one minute")
        self.slice_seconds = slice_seconds
        self.path = directory / "partition.sqlite3"
        self._db = sqlite3.connect(self.path, isolation_level=None)
        self._db.executescript(
            "PRAGMA journal_mode=OFF; PRAGMA synchronous=OFF; PRAGMA cache_size=-16000;"
            "PRAGMA temp_store=FILE;" + _SCHEMA
        )
        self._db.execute("BEGIN")
        self._pending: list[tuple[object, ...]] = []
        self._conversations: dict[tuple[str, str, str], list[str | int | None]] = {}
        self._finished = False
        self.record_count = 0
        #: (platform, workspace, actor id) -> the latest name seen, to name actors a record
        #: names by id only (a bot without its profile, a member added by someone).
        self.names: dict[tuple[str, str, str], str] = {}

    def add(self, record: Record, bundle: int | None, verified: bool) -> None:
        """Spill one record (in seq order)."""
        ident = (record.platform.value, record.workspace, record.conversation)
        known = self._conversations.get(ident)
        if known is None:
            known = self._conversations[ident] = [len(self._conversations), None, None]
        if record.conversation_name:
            known[1] = record.conversation_name
        actor = record.actor
        if actor is not None and actor.name and actor.name != actor.id:
            self.names[(record.platform.value, record.workspace, actor.id)] = actor.name
        kind = record.details.get("conversation_type") if record.details else None
        if isinstance(kind, str) and kind:
            known[2] = kind
        at = micros(record.occurred_at)
        seq = record.seq or 0
        ref_key = None
        if record.kind is Kind.ATTACHMENT_STORED and record.message_id is None:
            ref_key = next(
                (str(record.details[k]) for k in _REFERENCE_KEYS if k in record.details), None
            )
        body = pack(record, at)
        self._pending.append(
            (
                known[0],
                at // (self.slice_seconds * 1_000_000),
                at,
                seq,
                seq,
                record.kind.value,
                record.key,
                target_of(record),
                ref_key,
                bundle,
                int(verified),
                body,
            )
        )
        self.record_count += 1
        if len(self._pending) >= _BATCH:
            self._flush()

    def _flush(self) -> None:
        self._db.executemany("INSERT INTO rec VALUES (?,?,?,?,?,?,?,?,?,?,?,?)", self._pending)
        self._pending.clear()

    def finish(self) -> None:
        """Route every record to its message's slice and index for reading."""
        self._flush()
        db = self._db
        if db.execute("SELECT 1 FROM rec WHERE ref_key IS NOT NULL LIMIT 1").fetchone():
            db.execute("CREATE INDEX rec_key ON rec (key)")
            db.execute(
                "UPDATE rec SET target = (SELECT m.target FROM rec AS m WHERE m.key = rec.ref_key"
                " AND m.kind = 'message') WHERE ref_key IS NOT NULL"
            )
        # The first record about a message (its own, else the earliest about it) anchors it.
        for own in (1, 0):
            db.execute(
                "INSERT OR IGNORE INTO msg SELECT conv, target, slice, anchor_time, anchor_seq"
                " FROM rec WHERE target IS NOT NULL AND (kind = 'message') = ? ORDER BY seq",
                (own,),
            )
        db.execute(
            "UPDATE rec SET slice = msg.slice, anchor_time = msg.anchor_time,"
            " anchor_seq = msg.anchor_seq FROM msg"
            " WHERE rec.target IS NOT NULL AND msg.conv = rec.conv AND msg.target = rec.target"
        )
        db.execute("CREATE INDEX rec_order ON rec (conv, slice, anchor_time, anchor_seq, seq)")
        db.execute("COMMIT")
        self._finished = True

    def conversations(self) -> list[Conversation]:
        """Every conversation, ordered by platform, workspace and id."""
        found = [
            Conversation(
                int(number),
                Platform(p),
                w,
                c,
                name if isinstance(name, str) else None,
                kind if isinstance(kind, str) else None,
            )
            for (p, w, c), (number, name, kind) in self._conversations.items()
            if isinstance(number, int)
        ]
        return sorted(found, key=lambda c: (c.platform.value, c.workspace, c.conversation))

    def record_counts(self) -> dict[int, int]:
        """Records per conversation number (to share rendering out evenly)."""
        self._require_finished()
        rows = self._db.execute("SELECT conv, COUNT(*) FROM rec GROUP BY conv")
        return {int(conv): int(count) for conv, count in rows}

    def reopen(self) -> None:
        """Use a connection of this process's own (in a forked worker, never the parent's)."""
        self._require_finished()
        self._db = sqlite3.connect(self.path, isolation_level=None)

    def slices(self, conversation: Conversation) -> list[int]:
        """The slice numbers of a conversation that hold records, in order."""
        self._require_finished()
        rows = self._db.execute(
            "SELECT DISTINCT slice FROM rec WHERE conv = ? ORDER BY slice", (conversation.number,)
        )
        return [int(r[0]) for r in rows]

    def slice_start(self, number: int) -> datetime:
        return datetime.fromtimestamp(number * self.slice_seconds, UTC)

    def slice_end(self, number: int) -> datetime:
        return datetime.fromtimestamp((number + 1) * self.slice_seconds, UTC)

    def rows(self, conversation: Conversation, number: int) -> Iterator[Row]:
        self._require_finished()
        cursor = self._db.execute(
            "SELECT body, seq, target, bundle, verified FROM rec WHERE conv = ? AND slice = ?"
            " ORDER BY anchor_time, anchor_seq, seq",
            (conversation.number, number),
        )
        for body, seq, target, bundle, verified in cursor:
            record = unpack(body, seq)
            actor = record.actor
            if actor is not None and not actor.name:
                name = self.name_of(conversation, actor.id)
                if name is not None:
                    record = replace(record, actor=replace(actor, name=name))
            yield Row(record, target, bundle, bool(verified))

    def name_of(self, conversation: Conversation, actor_id: str) -> str | None:
        """The name another record of the export gives ``actor_id`` in this workspace."""
        return self.names.get((conversation.platform.value, conversation.workspace, actor_id))

    def conversation_name(self, conversation: Conversation, conversation_id: str) -> str | None:
        """The name of another conversation of the same workspace, if the export has it."""
        for other in self.conversations():
            if other.workspace == conversation.workspace and other.conversation == conversation_id:
                return other.name
        return None

    def items(self, conversation: Conversation, number: int) -> Iterator[Item]:
        """The folded messages and events of one slice, in time order (actors named)."""
        return fold_items(
            self.rows(conversation, number), lambda actor_id: self.name_of(conversation, actor_id)
        )

    def _require_finished(self) -> None:
        if not self._finished:
            raise RuntimeError("PartitionStore.finish() must be called before reading")

    def close(self) -> None:
        self._db.close()
