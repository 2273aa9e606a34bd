"""The review queue: derived state in one SQLite file (``<home>/supervision.db`` by default).

It holds review items (record, policy, hits with positions, conversation context), what was
screened (the last bundle, and per policy and day the in-scope, flagged, always-review and
sampled counts), the policies seen (name, version, hash and the hashed document), and a copy
of every review decision, marked with the bundle that sealed it once screening reads it back.
Everything here can be rebuilt from the sealed archive (``chatkeeper review rebuild``): the
evidence is the sealed ``review_decision`` records, not this file.
"""

from __future__ import annotations

import contextlib
import json
import sqlite3
import threading
from collections.abc import Iterator, Sequence
from pathlib import Path
from typing import Any

from archive.errors import ConfigError

SCHEMA = """
CREATE TABLE IF NOT EXISTS meta (name TEXT PRIMARY KEY, value TEXT NOT NULL);
CREATE TABLE IF NOT EXISTS policies (
  hash TEXT PRIMARY KEY, name TEXT NOT NULL, version TEXT NOT NULL, document BLOB NOT NULL);
CREATE TABLE IF NOT EXISTS items (
  id TEXT PRIMARY KEY, policy TEXT NOT NULL, policy_version TEXT NOT NULL,
  policy_hash TEXT NOT NULL, reason TEXT NOT NULL, record_key TEXT NOT NULL, seq INTEGER,
  bundle INTEGER NOT NULL, platform TEXT NOT NULL, workspace TEXT NOT NULL,
  conversation TEXT NOT NULL, conversation_name TEXT, actor_id TEXT, actor_name TEXT,
  kind TEXT NOT NULL, occurred_at TEXT NOT NULL, queued_at TEXT NOT NULL, text TEXT,
  hits TEXT NOT NULL, context_before TEXT NOT NULL, context_after TEXT NOT NULL,
  after_needed INTEGER NOT NULL, assignee TEXT, review_within_days REAL NOT NULL,
  decision TEXT, decided_at TEXT, decision_id TEXT);
CREATE INDEX IF NOT EXISTS items_policy ON items (policy, occurred_at);
CREATE INDEX IF NOT EXISTS items_queue ON items (queued_at, occurred_at, id);
CREATE INDEX IF NOT EXISTS items_waiting ON items (after_needed) WHERE after_needed > 0;
CREATE TABLE IF NOT EXISTS decisions (
  id TEXT PRIMARY KEY, item TEXT NOT NULL, action TEXT NOT NULL, decision TEXT,
  assignee TEXT, reviewer TEXT NOT NULL, comment TEXT NOT NULL, policy_hash TEXT,
  decided_at TEXT NOT NULL, supersedes TEXT, record_key TEXT NOT NULL, bundle INTEGER);
CREATE INDEX IF NOT EXISTS decisions_item ON decisions (item, decided_at);
CREATE TABLE IF NOT EXISTS counts (
  policy TEXT NOT NULL, policy_hash TEXT NOT NULL, day TEXT NOT NULL,
  in_scope INTEGER NOT NULL, flagged INTEGER NOT NULL, always INTEGER NOT NULL,
  sampled INTEGER NOT NULL, PRIMARY KEY (policy, policy_hash, day));
CREATE TABLE IF NOT EXISTS tails (conversation TEXT PRIMARY KEY, messages TEXT NOT NULL);
"""

ITEM_COLUMNS = (
    "id", "policy", "policy_version", "policy_hash", "reason", "record_key", "seq", "bundle",
    "platform", "workspace", "conversation", "conversation_name", "actor_id", "actor_name",
    "kind", "occurred_at", "queued_at", "text", "hits", "context_before", "context_after",
    "after_needed", "assignee", "review_within_days",
)  # fmt: skip
DECISION_COLUMNS = (
    "id", "item", "action", "decision", "assignee", "reviewer", "comment", "policy_hash",
    "decided_at", "supersedes", "record_key", "bundle",
)  # fmt: skip
_JSON_COLUMNS = ("hits", "context_before", "context_after")


def _insert(table: str, columns: Sequence[str]) -> str:
    names = ", ".join(columns)
    marks = ", ".join("?" for _ in columns)
    return f"INSERT OR IGNORE INTO {table} ({names}) VALUES ({marks})"  # noqa: S608


class QueueStore:
    """One SQLite file; writes are serialized per process and by SQLite across processes."""

    def __init__(self, path: Path) -> None:
        self.path = path
        try:
            path.parent.mkdir(parents=True, exist_ok=True)
            self._conn = sqlite3.connect(path, isolation_level=None, check_same_thread=False)
            self._conn.row_factory = sqlite3.Row
            self._conn.execute("PRAGMA journal_mode=WAL")
            self._conn.execute("PRAGMA busy_timeout=30000")
            self._conn.executescript(SCHEMA)
        except (sqlite3.Error, OSError) as exc:
            raise ConfigError(f"cannot open the review queue {path}: {exc}") from exc
        self._lock = threading.RLock()

    def close(self) -> None:
        self._conn.close()

    def __enter__(self) -> QueueStore:
        return self

    def __exit__(self, *exc: object) -> None:
        self.close()

    @contextlib.contextmanager
    def transaction(self) -> Iterator[sqlite3.Connection]:
        """BEGIN IMMEDIATE ... COMMIT: one writer at a time, across processes too."""
        with self._lock:
            self._conn.execute("BEGIN IMMEDIATE")
            try:
                yield self._conn
            except BaseException:
                self._conn.execute("ROLLBACK")
                raise
            self._conn.execute("COMMIT")

    def query(self, sql: str, params: Sequence[Any] = ()) -> list[sqlite3.Row]:
        with self._lock:
            return list(self._conn.execute(sql, params))

    # -- screening progress ------------------------------------------------------------
    def last_bundle(self, conn: sqlite3.Connection | None = None) -> int:
        rows = (conn or self._conn).execute("SELECT value FROM meta WHERE name = 'last_bundle'")
        row = rows.fetchone()
        return int(row[0]) if row else 0

    def set_last_bundle(self, conn: sqlite3.Connection, number: int) -> None:
        conn.execute(
            "INSERT INTO meta (name, value) VALUES ('last_bundle', ?) "
            "ON CONFLICT (name) DO UPDATE SET value = excluded.value",
            (str(number),),
        )

    def reset(self) -> None:
        """Forget everything derived (for a rebuild from the archive)."""
        with self.transaction() as conn:
            for table in ("meta", "policies", "items", "decisions", "counts", "tails"):
                conn.execute(f"DELETE FROM {table}")  # noqa: S608

    # -- rows ----------------------------------------------------------------------------
    @staticmethod
    def add_items(conn: sqlite3.Connection, items: Sequence[dict[str, Any]]) -> None:
        rows = [
            tuple(
                json.dumps(item[c], ensure_ascii=False) if c in _JSON_COLUMNS else item.get(c)
                for c in ITEM_COLUMNS
            )
            for item in items
        ]
        conn.executemany(_insert("items", ITEM_COLUMNS), rows)

    @staticmethod
    def add_decisions(conn: sqlite3.Connection, decisions: Sequence[dict[str, Any]]) -> None:
        """Insert decisions; one already known (made here) gets the bundle that sealed it."""
        conn.executemany(
            _insert("decisions", DECISION_COLUMNS),
            [tuple(d.get(c) for c in DECISION_COLUMNS) for d in decisions],
        )
        sealed = [(d["bundle"], d["id"]) for d in decisions if d.get("bundle") is not None]
        conn.executemany("UPDATE decisions SET bundle = ? WHERE id = ?", sealed)
        conn.executemany(  # the item's state is its latest decision (by time, then id)
            "UPDATE items SET decision = ?, decided_at = ?, decision_id = ? WHERE id = ? AND "
            "(decided_at IS NULL OR (decided_at, decision_id) < (?, ?))",
            [
                (d["decision"], d["decided_at"], d["id"], d["item"], d["decided_at"], d["id"])
                for d in decisions
                if d["action"] == "decide"
            ],
        )
        for d in decisions:
            if d["action"] == "assign":
                conn.execute(
                    "UPDATE items SET assignee = ? WHERE id = ? AND NOT EXISTS (SELECT 1 FROM "
                    "decisions WHERE item = ? AND action = 'assign' AND decided_at > ?)",
                    (d["assignee"] or None, d["item"], d["item"], d["decided_at"]),
                )

    @staticmethod
    def add_counts(conn: sqlite3.Connection, counts: dict[tuple[str, str, str], list[int]]) -> None:
        conn.executemany(
            "INSERT INTO counts (policy, policy_hash, day, in_scope, flagged, always, sampled) "
            "VALUES (?, ?, ?, ?, ?, ?, ?) ON CONFLICT (policy, policy_hash, day) DO UPDATE SET "
            "in_scope = in_scope + excluded.in_scope, flagged = flagged + excluded.flagged, "
            "always = always + excluded.always, sampled = sampled + excluded.sampled",
            [(*key, *values) for key, values in counts.items()],
        )

    @staticmethod
    def add_policy(
        conn: sqlite3.Connection, hash_: str, name: str, version: str, doc: bytes
    ) -> None:
        conn.execute(
            "INSERT OR IGNORE INTO policies (hash, name, version, document) VALUES (?, ?, ?, ?)",
            (hash_, name, version, doc),
        )

    def tails(self) -> dict[str, list[dict[str, Any]]]:
        return {r[0]: json.loads(r[1]) for r in self.query("SELECT * FROM tails")}

    @staticmethod
    def save_tails(conn: sqlite3.Connection, tails: dict[str, list[dict[str, Any]]]) -> None:
        conn.executemany(
            "INSERT INTO tails (conversation, messages) VALUES (?, ?) ON CONFLICT (conversation) "
            "DO UPDATE SET messages = excluded.messages",
            [(k, json.dumps(v, ensure_ascii=False)) for k, v in tails.items()],
        )

    def waiting_for_context(self) -> list[sqlite3.Row]:
        return self.query(
            "SELECT id, platform, workspace, conversation, context_after, after_needed "
            "FROM items WHERE after_needed > 0"
        )

    @staticmethod
    def update_context(
        conn: sqlite3.Connection, rows: Sequence[tuple[str, list[Any], int]]
    ) -> None:
        conn.executemany(
            "UPDATE items SET context_after = ?, after_needed = ? WHERE id = ?",
            [(json.dumps(after, ensure_ascii=False), needed, i) for i, after, needed in rows],
        )


def item_from_row(row: sqlite3.Row) -> dict[str, Any]:
    item = dict(row)
    for column in _JSON_COLUMNS:
        item[column] = json.loads(item[column])
    return item
