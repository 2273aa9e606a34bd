"""``PostgresSearchIndex``: the index in the replicas' shared PostgreSQL (tsvector + GIN).

Tokens come from ``search/text.py`` like SQLite's, written as a tsvector
literal (lexeme and positions) and copied in with COPY, so PostgreSQL's own
parser and dictionaries never reinterpret them: the ``simple`` behaviour
with accents removed, whether or not the server has ``unaccent``. Queries
are tsquery text built from the same tokens. Tables live in the connection's
``search_path`` schema; one bundle is one transaction under an advisory lock
so two replicas never index the same bundle twice.
"""

from __future__ import annotations

from collections.abc import Iterable
from datetime import UTC, datetime
from typing import Any

import psycopg

from archive.codec import format_time
from archive.errors import ConfigError, SearchIndexError
from search.compile import Where, plan, render_with, where
from search.document import SearchDocument
from search.port import Hit, IndexedBundle, RefusedBundle
from search.query import Near, Node, Text
from search.rows import DOC_COLUMNS, EDIT_NUMBER_SQL, HIT_COLUMNS, doc_values, hit_from_row

SCHEMA_VERSION = "1"
MAX_POSITION = 16383  # PostgreSQL clamps positions to this; so do we
_SCHEMA = """
CREATE TABLE IF NOT EXISTS search_meta (name TEXT PRIMARY KEY, value TEXT NOT NULL);
CREATE TABLE IF NOT EXISTS search_bundles (
    number BIGINT PRIMARY KEY, manifest_sha256 TEXT NOT NULL, records BIGINT NOT NULL,
    indexed_at TEXT NOT NULL);
CREATE TABLE IF NOT EXISTS search_refused (
    number BIGINT PRIMARY KEY, problems TEXT NOT NULL, checked_at TEXT NOT NULL);
CREATE TABLE IF NOT EXISTS search_docs (
    seq BIGINT PRIMARY KEY, key TEXT NOT NULL, bundle BIGINT NOT NULL,
    platform TEXT NOT NULL, workspace TEXT NOT NULL, conversation TEXT NOT NULL,
    conversation_name TEXT, conversation_key TEXT NOT NULL, kind TEXT NOT NULL,
    occurred_at TIMESTAMPTZ NOT NULL, actor_id TEXT, actor_name TEXT,
    actor_name_key TEXT NOT NULL, actor_email TEXT, actor_email_key TEXT NOT NULL,
    message_id TEXT, thread_id TEXT, has_file BOOLEAN NOT NULL, body TEXT NOT NULL,
    files TEXT NOT NULL, terms TSVECTOR NOT NULL);
CREATE INDEX IF NOT EXISTS search_docs_terms ON search_docs USING GIN (terms);
CREATE INDEX IF NOT EXISTS search_docs_message ON search_docs (conversation, message_id);
"""
_LOCK = "SELECT pg_advisory_xact_lock(hashtext(current_schema() || '.chatkeeper_search'))"


def tsvector_literal(terms: Iterable[str]) -> str:
    """Tokens as a tsvector literal: ``'tok':1,4 'other':2`` (positions from 1)."""
    positions: dict[str, list[str]] = {}
    for position, term in enumerate(terms, 1):
        if len(term.encode("utf-8")) < 2047:
            positions.setdefault(term, []).append(str(min(position, MAX_POSITION)))
    return " ".join(f"'{_quote(t)}':{','.join(p[:256])}" for t, p in positions.items())


def _quote(lexeme: str) -> str:
    return lexeme.replace("\\", "\\\\").replace("'", "''")


def _ts_text(node: Text) -> str:
    parts = [f"'{_quote(t)}'" for t in node.tokens]
    if node.prefix:
        parts[-1] += ":*"
    return "(" + " <-> ".join(parts) + ")"


def _ts_near(node: Near) -> str:
    left, right = f"'{_quote(node.left)}'", f"'{_quote(node.right)}'"
    gaps = range(1, node.distance + 2)
    alternatives = [f"{left} <{g}> {right}" for g in gaps] + [f"{right} <{g}> {left}" for g in gaps]
    return "(" + " | ".join(alternatives) + ")"


class _TsQuery:
    placeholder = "%s"
    has_file_sql = "d.has_file"
    match_sql = "d.terms @@ %s::tsquery"

    def render(self, node: Node) -> str:
        return render_with(
            node,
            _ts_text,
            _ts_near,
            and_op="&",
            or_op="|",
            and_not=lambda left, right: f"({left} & !{right})",
        )

    def time_value(self, moment: datetime) -> object:
        return moment


def _clean(value: Any) -> Any:
    """PostgreSQL text cannot hold NUL."""
    return value.replace("\x00", "\ufffd") if isinstance(value, str) else value


class PostgresSearchIndex:
    """The search index in PostgreSQL (tables in the DSN's search_path schema)."""

    def __init__(self, dsn: str, stream: str) -> None:
        self._dialect = _TsQuery()
        try:
            self._db = psycopg.connect(dsn, autocommit=True)
            with self._db.transaction():
                self._db.execute(_LOCK)
                self._db.execute(_SCHEMA)
                rows: dict[str, str] = dict(
                    self._db.execute("SELECT name, value FROM search_meta").fetchall()
                )
                if not rows:
                    self._db.execute(
                        "INSERT INTO search_meta VALUES ('schema', %s), ('stream', %s)",
                        (SCHEMA_VERSION, stream),
                    )
        except psycopg.Error as exc:
            raise SearchIndexError(f"search index (PostgreSQL): {exc}") from exc
        if rows and rows.get("stream") != stream:
            self._db.close()
            raise ConfigError(
                f"the PostgreSQL search index holds stream {rows.get('stream')!r}, not "
                f"{stream!r}: run chatkeeper index --rebuild"
            )

    def held(self) -> list[IndexedBundle]:
        rows = self._query("SELECT number, manifest_sha256, records FROM search_bundles ORDER BY 1")
        return [IndexedBundle(int(n), str(sha), int(c)) for n, sha, c in rows]

    def refused(self) -> list[RefusedBundle]:
        rows = self._query("SELECT number, problems FROM search_refused ORDER BY 1")
        return [RefusedBundle(int(n), str(p)) for n, p in rows]

    def add_bundle(self, bundle: IndexedBundle, documents: Iterable[SearchDocument]) -> bool:
        columns = ", ".join((*DOC_COLUMNS, "terms"))
        try:
            with self._db.transaction():
                self._db.execute(_LOCK)
                known = self._db.execute(
                    "SELECT 1 FROM search_bundles WHERE number = %s", (bundle.number,)
                ).fetchone()
                if known:
                    return False
                with (
                    self._db.cursor() as cursor,
                    cursor.copy(f"COPY search_docs ({columns}) FROM STDIN") as copy,
                ):
                    for doc in documents:
                        values = doc_values(doc, lambda m: m, bool)
                        copy.write_row(
                            (*(_clean(v) for v in values), tsvector_literal(doc.terms.split()))
                        )
                self._db.execute(
                    "INSERT INTO search_bundles VALUES (%s, %s, %s, %s)",
                    (bundle.number, bundle.manifest_sha256, bundle.records, _now()),
                )
                self._db.execute("DELETE FROM search_refused WHERE number = %s", (bundle.number,))
            return True
        except psycopg.Error as exc:
            raise SearchIndexError(f"search index (PostgreSQL): {exc}") from exc

    def refuse_bundle(self, bundle: RefusedBundle) -> None:
        self._query(
            "INSERT INTO search_refused VALUES (%s, %s, %s) ON CONFLICT (number) DO UPDATE"
            " SET problems = EXCLUDED.problems, checked_at = EXCLUDED.checked_at",
            (bundle.number, bundle.problems, _now()),
            fetch=False,
        )

    def reset(self) -> None:
        try:
            with self._db.transaction():
                self._db.execute(_LOCK)
                self._db.execute("TRUNCATE search_docs, search_bundles, search_refused")
        except psycopg.Error as exc:
            raise SearchIndexError(f"search index (PostgreSQL): {exc}") from exc

    def search(self, query: Node, limit: int | None) -> list[Hit]:
        driver, rest = plan(query)
        cols = ", ".join(f"d.{c}" for c in HIT_COLUMNS)
        condition = Where("TRUE", []) if rest is None else where(rest, self._dialect)
        params: list[object] = []
        text = ""
        if driver is not None:
            text = "d.terms @@ %s::tsquery AND "
            params.append(self._dialect.render(driver))
        params += [*condition.params, limit]
        inner = (
            f"SELECT {cols} FROM search_docs d WHERE {text}{condition.sql}"
            " ORDER BY d.seq DESC LIMIT %s"
        )
        sql = f"SELECT h.*, {EDIT_NUMBER_SQL} FROM ({inner}) h ORDER BY h.seq DESC"
        return [hit_from_row(row, _utc) for row in self._query(sql, params)]

    def _query(
        self, sql: str, params: Iterable[object] = (), *, fetch: bool = True
    ) -> list[tuple[Any, ...]]:
        try:
            cursor = self._db.execute(sql, tuple(params))
            return cursor.fetchall() if fetch else []
        except psycopg.Error as exc:
            raise SearchIndexError(f"search index (PostgreSQL): {exc}") from exc

    def close(self) -> None:
        self._db.close()

    def __enter__(self) -> PostgresSearchIndex:
        return self

    def __exit__(self, *exc: object) -> None:
        self.close()


def _utc(value: Any) -> datetime:
    assert isinstance(value, datetime)
    return value.astimezone(UTC)


def _now() -> str:
    return format_time(datetime.now(UTC))
