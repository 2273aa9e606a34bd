"""``SqliteSearchIndex``: the embedded default, SQLite FTS5 in the state directory.

Documents live in ``search_docs``; their tokens (see ``search/text.py``) in a
contentless FTS5 table whose rowid is the record's seq, so walking matches
newest first is FTS5's own ``ORDER BY rowid DESC``. Each bundle is added in
one transaction together with the row saying the index holds it.
"""

from __future__ import annotations

import sqlite3
import threading
from collections.abc import Iterable
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any

from archive.codec import format_time
from archive.errors import ConfigError, SearchIndexError
from search.compile import Where, plan, render_with, where
from search.document import SearchDocument
from search.facets import document_facets, facet_match, split_rest
from search.port import Hit, IndexedBundle, RefusedBundle
from search.query import And, Filter, Near, Node, Text
from search.rows import DOC_COLUMNS, EDIT_NUMBER_SQL, HIT_COLUMNS, doc_values, hit_from_row

SCHEMA_VERSION = "1"
_EPOCH = datetime(1970, 1, 1, tzinfo=UTC)
_MICRO = timedelta(microseconds=1)
_SCHEMA = """
CREATE TABLE IF NOT EXISTS search_meta (name TEXT PRIMARY KEY, value TEXT NOT NULL);
CREATE TABLE IF NOT EXISTS search_bundles (
    number INTEGER PRIMARY KEY, manifest_sha256 TEXT NOT NULL, records INTEGER NOT NULL,
    indexed_at TEXT NOT NULL);
CREATE TABLE IF NOT EXISTS search_refused (
    number INTEGER PRIMARY KEY, problems TEXT NOT NULL, checked_at TEXT NOT NULL);
CREATE TABLE IF NOT EXISTS search_docs (
    seq INTEGER PRIMARY KEY, key TEXT NOT NULL, bundle INTEGER NOT NULL,
    platform TEXT NOT NULL, workspace TEXT NOT NULL, conversation TEXT NOT NULL,
    conversation_name TEXT, conversation_key TEXT NOT NULL, kind TEXT NOT NULL,
    occurred_at INTEGER NOT NULL, actor_id TEXT, actor_name TEXT, actor_name_key TEXT NOT NULL,
    actor_email TEXT, actor_email_key TEXT NOT NULL, message_id TEXT, thread_id TEXT,
    has_file INTEGER NOT NULL, body TEXT NOT NULL, files TEXT NOT NULL);
CREATE INDEX IF NOT EXISTS search_docs_message ON search_docs (conversation, message_id);
CREATE INDEX IF NOT EXISTS search_docs_time ON search_docs (occurred_at);
CREATE VIRTUAL TABLE IF NOT EXISTS search_fts USING fts5(
    terms, facets, content='', columnsize=0, tokenize='unicode61 remove_diacritics 2');
"""


def _micros(moment: datetime) -> int:
    return (moment - _EPOCH) // _MICRO


def _moment(value: object) -> datetime:
    assert isinstance(value, int)
    return _EPOCH + timedelta(microseconds=value)


def _fts_text(node: Text) -> str:
    return '"' + " ".join(node.tokens) + '"' + ("*" if node.prefix else "")


def _fts_near(node: Near) -> str:
    return f'NEAR("{node.left}" "{node.right}", {node.distance})'


class _Fts5:
    placeholder = "?"
    has_file_sql = "d.has_file = 1"
    match_sql = "d.seq IN (SELECT rowid FROM search_fts WHERE search_fts MATCH ?)"

    def render(self, node: Node) -> str:
        expression = render_with(
            node,
            _fts_text,
            _fts_near,
            and_op="AND",
            or_op="OR",
            and_not=lambda left, right: f"({left} NOT {right})",
        )
        return f"terms : ({expression})"

    def time_value(self, moment: datetime) -> object:
        return _micros(moment)


class SqliteSearchIndex:
    """The search index in one SQLite file (WAL; derived data, so synchronous=NORMAL)."""

    def __init__(self, path: Path, stream: str) -> None:
        path.parent.mkdir(parents=True, exist_ok=True)
        self.path = path
        self._lock = threading.Lock()
        self._dialect = _Fts5()
        try:
            self._db = sqlite3.connect(path, isolation_level=None, check_same_thread=False)
            self._db.execute("PRAGMA journal_mode=WAL")
            self._db.execute("PRAGMA synchronous=NORMAL")
            self._db.execute("PRAGMA cache_size=-65536")
            self._db.executescript(_SCHEMA)
            self._check_meta(stream)
        except sqlite3.Error as exc:
            raise SearchIndexError(f"search index {path}: {exc}") from exc

    def _check_meta(self, stream: str) -> None:
        rows = dict(self._db.execute("SELECT name, value FROM search_meta").fetchall())
        if not rows:
            self._db.executemany(
                "INSERT INTO search_meta VALUES (?, ?)",
                [("schema", SCHEMA_VERSION), ("stream", stream)],
            )
        elif rows.get("stream") != stream:
            raise ConfigError(
                f"search index {self.path} holds stream {rows.get('stream')!r}, not {stream!r}: "
                "run chatkeeper index --rebuild"
            )

    def held(self) -> list[IndexedBundle]:
        rows = self._query("SELECT number, manifest_sha256, records FROM search_bundles ORDER BY 1")
        return [IndexedBundle(int(n), str(sha), int(c)) for n, sha, c in rows]

    def refused(self) -> list[RefusedBundle]:
        rows = self._query("SELECT number, problems FROM search_refused ORDER BY 1")
        return [RefusedBundle(int(n), str(p)) for n, p in rows]

    def add_bundle(self, bundle: IndexedBundle, documents: Iterable[SearchDocument]) -> bool:
        columns = ", ".join(DOC_COLUMNS)
        marks = ", ".join("?" for _ in DOC_COLUMNS)
        with self._lock:
            db = self._db
            try:
                db.execute("BEGIN IMMEDIATE")
                try:
                    known = db.execute(
                        "SELECT 1 FROM search_bundles WHERE number = ?", (bundle.number,)
                    ).fetchone()
                    if known:
                        db.execute("ROLLBACK")
                        return False
                    docs = list(documents)
                    db.executemany(
                        f"INSERT INTO search_docs ({columns}) VALUES ({marks})",
                        [doc_values(d, _micros, int) for d in docs],
                    )
                    db.executemany(
                        "INSERT INTO search_fts (rowid, terms, facets) VALUES (?, ?, ?)",
                        [(d.seq, d.terms, document_facets(d)) for d in docs],
                    )
                    db.execute(
                        "INSERT INTO search_bundles VALUES (?, ?, ?, ?)",
                        (bundle.number, bundle.manifest_sha256, bundle.records, _now()),
                    )
                    db.execute("DELETE FROM search_refused WHERE number = ?", (bundle.number,))
                    db.execute("COMMIT")
                    return True
                except BaseException:
                    if db.in_transaction:
                        db.execute("ROLLBACK")
                    raise
            except sqlite3.Error as exc:
                raise SearchIndexError(f"search index {self.path}: {exc}") from exc

    def refuse_bundle(self, bundle: RefusedBundle) -> None:
        self._write(
            "INSERT OR REPLACE INTO search_refused VALUES (?, ?, ?)",
            (bundle.number, bundle.problems, _now()),
        )

    def reset(self) -> None:
        with self._lock:
            try:
                self._db.executescript(
                    "BEGIN; DELETE FROM search_docs; DELETE FROM search_bundles;"
                    " DELETE FROM search_refused; DROP TABLE search_fts; COMMIT;"
                )
                self._db.executescript(_SCHEMA)
                self._db.execute("VACUUM")
            except sqlite3.Error as exc:
                raise SearchIndexError(f"search index {self.path}: {exc}") from exc

    def search(self, query: Node, limit: int | None) -> list[Hit]:
        driver, rest = plan(query)
        facets, times, others = split_rest(rest)
        bounds = self._seq_bounds(times)
        if bounds is None:
            return []
        remaining = others[0] if len(others) == 1 else And(tuple(others)) if others else None
        condition = Where("1", []) if remaining is None else where(remaining, self._dialect)
        match = [self._dialect.render(driver)] if driver is not None else []
        match += [facet_match(f) for f in facets]
        cols = ", ".join(f"d.{c}" for c in HIT_COLUMNS)
        if match:
            inner = (
                f"SELECT {cols} FROM search_fts JOIN search_docs d ON d.seq = search_fts.rowid"
                f" WHERE search_fts MATCH ? AND search_fts.rowid BETWEEN ? AND ?"
                f" AND {condition.sql} ORDER BY search_fts.rowid DESC LIMIT ?"
            )
            params = [" AND ".join(f"({m})" for m in match), *bounds, *condition.params]
        else:
            inner = (
                f"SELECT {cols} FROM search_docs d WHERE d.seq BETWEEN ? AND ?"
                f" AND {condition.sql} ORDER BY d.seq DESC LIMIT ?"
            )
            params = [*bounds, *condition.params]
        params.append(-1 if limit is None else limit)
        sql = f"SELECT h.*, {EDIT_NUMBER_SQL} FROM ({inner}) h ORDER BY h.seq DESC"
        return [hit_from_row(row, _moment) for row in self._query(sql, params)]

    def _seq_bounds(self, times: list[Filter]) -> tuple[int, int] | None:
        """The seq range holding every record in the time window (None: it is empty)."""
        if not times:
            return 0, 2**63 - 1
        where_time = where(And(tuple(times)) if len(times) > 1 else times[0], self._dialect)
        [(low, high)] = self._query(
            f"SELECT min(seq), max(seq) FROM search_docs d WHERE {where_time.sql}",
            where_time.params,
        )
        return None if low is None else (int(low), int(high))

    def _query(self, sql: str, params: Iterable[object] = ()) -> list[tuple[Any, ...]]:
        with self._lock:
            try:
                return self._db.execute(sql, tuple(params)).fetchall()
            except sqlite3.Error as exc:
                raise SearchIndexError(f"search index {self.path}: {exc}") from exc

    def _write(self, sql: str, params: tuple[object, ...]) -> None:
        self._query(sql, params)

    def close(self) -> None:
        self._db.close()

    def __enter__(self) -> SqliteSearchIndex:
        return self

    def __exit__(self, *exc: object) -> None:
        self.close()


def _now() -> str:
    return format_time(datetime.now(UTC))
