"""A spill-to-disk partition of records by conversation and time slice.

Records arrive in seq order across all conversations, while every format
renders one conversation slice at a time, each message with its later edits,
deletions and reactions. ``PartitionStore`` writes the records to a temporary
SQLite file as they stream in (memory stays bounded by one insert batch),
then routes each record to the slice of the message it is about and reads a
slice back ordered by message, so folding holds one message at a time. The
bodies have a table of their own, so routing scans and rewrites small rows only.

Records arrive as the JSON objects of their sealed lines (``codec.line_fields``):
the store reads the few fields it routes by from the object and keeps the rest as
marshal bytes, without the ``raw`` payload (the renderers never need it; the jsonl
format, which keeps it, streams records directly). A record is read back only
when its slice is read, in the render worker that reads it, as the named tuple of
the fields folding reads (``exporters.stored``).
"""

from __future__ import annotations

import sqlite3
from collections.abc import Iterator
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any, NamedTuple

from archive.codec import parse_time, record_to_dict
from archive.model import Kind, Platform, Record, message_target
from exporters.fold import Item, Row, fold_items
from exporters.stored import Actors, pack, unpack

DAY_SECONDS = 86_400
_FILE_NAME = "partition.sqlite3"
_BATCH = 2_000
_REFERENCE_KEYS = ("record_key", "original_key", "ref_key")

_SCHEMA = """
CREATE TABLE rec (
    id INTEGER PRIMARY KEY, conv INTEGER NOT NULL, slice INTEGER NOT NULL,
    anchor_time INTEGER NOT NULL, anchor_seq INTEGER NOT NULL, seq INTEGER NOT NULL,
    kind TEXT NOT NULL, key TEXT NOT NULL, target TEXT, ref_key TEXT, bundle INTEGER,
    verified INTEGER NOT NULL
);
CREATE TABLE body (id INTEGER PRIMARY KEY, data BLOB NOT NULL);
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
_STORED = Kind.ATTACHMENT_STORED.value


def micros(moment: datetime) -> int:
    """Microseconds since the epoch, exactly."""
    return (moment - _EPOCH) // _ONE_MICROSECOND


Ident = tuple[str, str, str]  # platform, workspace, conversation


class ShardState(NamedTuple):
    """What a store spilled in another process holds beside its tables (``adopt``)."""

    conversations: list[tuple[Ident, str | None, str | None]]  # in the shard's number order
    names: dict[tuple[str, str, str], str]
    record_count: int


class PartitionStore:
    """Records partitioned by (conversation, slice) in a temporary SQLite file."""

    def __init__(self, directory: Path, slice_seconds: int = DAY_SECONDS) -> None:
        if slice_seconds < 60:
            raise ValueError("slice must be at least one minute")
        self.slice_seconds = slice_seconds
        self.path = directory / _FILE_NAME
        self._db = self._open(_SCHEMA)
        self._pending: list[tuple[object, ...]] = []
        self._bodies: list[tuple[int, bytes]] = []
        self._conversations: dict[tuple[str, str, str], list[str | int | None]] = {}
        self._finished = False
        self.record_count = 0
        #: (platform, workspace, actor id) -> the latest name seen, to name actors a record
        #: names by id only (a bot without its profile, a member added by someone).
        self.names: dict[tuple[str, str, str], str] = {}

    def add(self, record: Record, bundle: int | None, verified: bool) -> None:
        """Spill one record (in seq order)."""
        self.add_fields(record_to_dict(record), record.seq or 0, bundle, verified)

    def add_fields(
        self, data: dict[str, Any], seq: int, bundle: int | None, verified: bool
    ) -> None:
        """Spill one record given as its sealed JSON object (``codec.line_fields``), in
        seq order; its values are kept (``stored.pack``), without ``raw``."""
        platform, workspace = data["platform"], data["workspace"]
        ident = (platform, workspace, data["conversation"])
        known = self._conversations.get(ident)
        if known is None:
            known = self._conversations[ident] = [len(self._conversations), None, None]
        if name := data.get("conversation_name"):
            known[1] = name
        actor = data.get("actor")
        if actor is not None and (name := actor.get("name")) and name != actor["id"]:
            self.names[(platform, workspace, actor["id"])] = name
        details = data.get("details")
        if details and isinstance(kind := details.get("conversation_type"), str) and kind:
            known[2] = kind
        at = micros(parse_time(data["occurred_at"]))
        ref_key = None
        if data["kind"] == _STORED and data.get("message_id") is None and details:
            ref_key = next((str(details[k]) for k in _REFERENCE_KEYS if k in details), None)
        target = message_target(
            _KINDS[data["kind"]], _PLATFORMS[platform], data["key"], data.get("message_id"), details
        )
        number = self.record_count
        self._bodies.append((number, pack(data)))
        self._pending.append(
            (
                number,
                known[0],
                at // (self.slice_seconds * 1_000_000),
                at,
                seq,
                seq,
                data["kind"],
                data["key"],
                target,
                ref_key,
                bundle,
                int(verified),
            )
        )
        self.record_count += 1
        if len(self._pending) >= _BATCH:
            self._flush()

    def _flush(self) -> None:
        self._db.executemany("INSERT INTO rec VALUES (?,?,?,?,?,?,?,?,?,?,?,?)", self._pending)
        self._db.executemany("INSERT INTO body VALUES (?,?)", self._bodies)
        self._pending.clear()
        self._bodies.clear()

    def shard_state(self) -> ShardState:
        """Write out what was spilled (not routed: the store that adopts it routes)."""
        self._flush()
        self._db.execute("COMMIT")
        self._db.execute("BEGIN")
        ordered = sorted(
            (number, ident, name, kind)
            for ident, (number, name, kind) in self._conversations.items()
            if isinstance(number, int)
        )
        return ShardState(
            [
                (
                    ident,
                    name if isinstance(name, str) else None,
                    kind if isinstance(kind, str) else None,
                )
                for _, ident, name, kind in ordered
            ],
            dict(self.names),
            self.record_count,
        )

    def _open(self, schema: str = "") -> sqlite3.Connection:
        db = sqlite3.connect(self.path, isolation_level=None)
        db.executescript(
            "PRAGMA journal_mode=OFF; PRAGMA synchronous=OFF; PRAGMA cache_size=-16000;"
            "PRAGMA temp_store=FILE;" + schema
        )
        db.execute("BEGIN")
        return db

    def adopt(self, directory: Path, state: ShardState) -> None:
        """Append the records of the store spilled in ``directory`` (its bundles come after
        every bundle spilled here so far, before any spilled later).

        Into a store that holds nothing yet, the shard's file becomes this store's file
        (its conversation numbers are then this store's): nothing is copied.
        """
        self._flush()
        if not self.record_count and not self._conversations:
            self._db.execute("COMMIT")
            self._db.close()
            (directory / _FILE_NAME).replace(self.path)
            self._db = self._open()
            for number, (ident, name, kind) in enumerate(state.conversations):
                self._conversations[ident] = [number, name, kind]
            self.names.update(state.names)
            self.record_count = state.record_count
            return
        numbers: list[tuple[int, int | str | None]] = []
        for ident, name, kind in state.conversations:
            known = self._conversations.get(ident)
            if known is None:
                known = self._conversations[ident] = [len(self._conversations), None, None]
            if name:
                known[1] = name
            if kind:
                known[2] = kind
            numbers.append((len(numbers), known[0]))
        self.names.update(state.names)
        db = self._db
        db.execute("COMMIT")
        db.execute("ATTACH DATABASE ? AS shard", (str(directory / _FILE_NAME),))
        try:
            db.execute("BEGIN")
            db.execute("CREATE TEMP TABLE IF NOT EXISTS numbers (local INTEGER PRIMARY KEY, conv)")
            db.execute("DELETE FROM numbers")
            db.executemany("INSERT INTO numbers VALUES (?, ?)", numbers)
            offset = self.record_count
            db.execute(
                "INSERT INTO rec SELECT r.id + ?, n.conv, r.slice, r.anchor_time, r.anchor_seq,"
                " r.seq, r.kind, r.key, r.target, r.ref_key, r.bundle, r.verified"
                " FROM shard.rec AS r JOIN numbers AS n ON n.local = r.conv ORDER BY r.id",
                (offset,),
            )
            db.execute(
                "INSERT INTO body SELECT id + ?, data FROM shard.body ORDER BY id", (offset,)
            )
            db.execute("COMMIT")
        finally:
            db.execute("DETACH DATABASE shard")
            db.execute("BEGIN")
        self.record_count += state.record_count

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
        # The first record about a message (its own, else the earliest about it) anchors it;
        # records are spilled in seq order, so their ids are in seq order too.
        for own in (1, 0):
            db.execute(
                "INSERT OR IGNORE INTO msg SELECT conv, target, slice, anchor_time, anchor_seq"
                " FROM rec WHERE target IS NOT NULL AND (kind = 'message') = ? ORDER BY id",
                (own,),
            )
        db.execute(
            "UPDATE rec SET slice = msg.slice, anchor_time = msg.anchor_time,"
            " anchor_seq = msg.anchor_seq FROM msg"
            " WHERE rec.target IS NOT NULL AND msg.conv = rec.conv AND msg.target = rec.target"
            # a message's own record (most rows) anchors itself already: left as it is
            " AND (rec.slice, rec.anchor_time, rec.anchor_seq)"
            " IS NOT (msg.slice, msg.anchor_time, msg.anchor_seq)"
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
            "SELECT data, seq, target, bundle, verified FROM rec JOIN body USING (id)"
            " WHERE conv = ? AND slice = ? ORDER BY anchor_time, anchor_seq, seq",
            (conversation.number, number),
        )
        actors = Actors(lambda actor_id: self.name_of(conversation, actor_id))
        for body, seq, target, bundle, verified in cursor:
            yield Row(unpack(body, seq, actors), target, bundle, bool(verified))

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
