"""PostgresJournal: the journal for several replicas sharing one database.

Appends go through a group-commit writer per process. Every append transaction
first takes one advisory lock, so seqs are handed out and committed in the
same order across replicas: no record commits late with a lower seq than one
already visible, which is what lets a bundle be the seq range above the last
sealed seq. Bundles are opened under another advisory lock; attachment tasks
are claimed with SKIP LOCKED.
"""

from __future__ import annotations

import contextlib
import threading
from collections.abc import Iterator, Sequence
from dataclasses import dataclass, field
from typing import Any

import psycopg

from archive.errors import JournalError
from archive.journal.group_commit import GroupCommitter
from archive.journal.port import SealRow
from archive.journal.postgres_schema import MIGRATIONS
from archive.journal.sql_base import Execute, SqlJournal

_LOCKS = {"append": 7_294_001, "bundles": 7_294_002, "migrate": 7_294_003}


_INSERT_MANY = (
    "INSERT INTO records (key, platform, workspace, conversation, kind, occurred_at,"
    " captured_at, blobs, size, body)"
    " SELECT * FROM unnest(%s::text[], %s::text[], %s::text[], %s::text[], %s::text[],"
    " %s::text[], %s::text[], %s::text[], %s::integer[], %s::bytea[])"
    " ON CONFLICT (key) DO NOTHING RETURNING key, seq"
)


def _pg(sql: str) -> str:
    return sql.replace("?", "%s")


@dataclass(frozen=True)
class PostgresRows:
    """Seq ranges of one PostgreSQL journal, read on a connection of their own."""

    dsn: str = field(repr=False)  # may hold a password

    def rows(self, first: int, last: int) -> Iterator[SealRow]:
        try:
            with psycopg.connect(self.dsn) as conn, conn.cursor(name="bundle_rows") as cursor:
                cursor.itersize = 2000
                cursor.execute(
                    "SELECT seq, body, occurred_at,"
                    " platform || ':' || workspace || ':' || conversation, blobs, kind"
                    " FROM records WHERE seq BETWEEN %s AND %s ORDER BY seq",
                    (first, last),
                )
                for seq, body, occurred_at, conversation, blobs, kind in cursor:
                    yield seq, bytes(body), occurred_at, conversation, blobs, kind
        except psycopg.Error as exc:
            raise JournalError(f"cannot read journal rows {first}..{last}: {exc}") from exc


class PostgresJournal(SqlJournal):
    lock_rows = " FOR UPDATE SKIP LOCKED"

    def __init__(self, dsn: str) -> None:
        self.dsn = dsn
        try:
            self._control = psycopg.connect(dsn, autocommit=True)
            self._migrate()
            self._writer_conn = psycopg.connect(dsn, autocommit=True)
        except psycopg.Error as exc:
            raise JournalError(f"cannot open PostgreSQL journal: {exc}") from exc
        self._lock = threading.Lock()
        self._committer = GroupCommitter(self._commit, name="pg-journal-writer")

    def _migrate(self) -> None:
        with self._control.transaction():
            self._control.execute("SELECT pg_advisory_xact_lock(%s)", (_LOCKS["migrate"],))
            self._control.execute(
                "CREATE TABLE IF NOT EXISTS chatkeeper_schema (version INTEGER NOT NULL)"
            )
            row = self._control.execute("SELECT max(version) FROM chatkeeper_schema").fetchone()
            version = int(row[0] or 0) if row else 0
            for number, script in enumerate(MIGRATIONS[version:], start=version + 1):
                self._control.execute(script)
                self._control.execute("INSERT INTO chatkeeper_schema VALUES (%s)", (number,))

    @property
    def schema_version(self) -> int:
        return int(self._query("SELECT max(version) FROM chatkeeper_schema")[0][0])

    # -- statements ---------------------------------------------------------------
    def _execute(self, sql: str, params: Sequence[Any] = ()) -> tuple[list[Any], int]:
        with self._lock:
            try:
                cursor = self._control.execute(_pg(sql), params)
                rows = cursor.fetchall() if cursor.description else []
                return rows, cursor.rowcount
            except psycopg.Error as exc:
                raise JournalError(f"journal statement failed: {exc}") from exc

    @contextlib.contextmanager
    def _transaction(self, lock: str | None = None) -> Iterator[Execute]:
        with self._lock:
            conn = self._control
            try:
                with conn.transaction():
                    if lock is not None:
                        conn.execute("SELECT pg_advisory_xact_lock(%s)", (_LOCKS[lock],))
                    yield lambda sql, params: conn.execute(_pg(sql), params)
            except psycopg.Error as exc:
                raise JournalError(f"journal transaction failed: {exc}") from exc

    # -- group commit -------------------------------------------------------------
    def _commit(self, batch: list[list[tuple[Any, ...]]]) -> list[list[int]]:
        """One transaction and two statements for the whole batch, under the append lock.

        The rows go in as arrays (one INSERT ... SELECT FROM unnest); keys already
        stored, or repeated in the batch, resolve to their seq with one SELECT.
        """
        conn = self._writer_conn
        unique: dict[str, tuple[Any, ...]] = {}
        for rows in batch:
            for row in rows:
                unique.setdefault(row[0], row)
        if not unique:
            return [[] for _ in batch]
        columns = list(zip(*unique.values(), strict=True))
        try:
            with conn.transaction():
                conn.execute("SELECT pg_advisory_xact_lock(%s)", (_LOCKS["append"],))
                seq_of: dict[str, int] = dict(
                    conn.execute(_INSERT_MANY, [list(c) for c in columns]).fetchall()
                )
                missing = [key for key in unique if key not in seq_of]
                if missing:
                    seq_of.update(
                        conn.execute(
                            "SELECT key, seq FROM records WHERE key = ANY(%s)", (missing,)
                        ).fetchall()
                    )
        except psycopg.Error as exc:
            raise JournalError(f"journal append failed, nothing was stored: {exc}") from exc
        return [[int(seq_of[row[0]]) for row in rows] for rows in batch]

    def _stream(self, sql: str, params: Sequence[Any]) -> Iterator[Any]:
        try:
            with psycopg.connect(self.dsn) as conn, conn.cursor(name="find_records") as cursor:
                cursor.itersize = 500
                cursor.execute(_pg(sql), params)
                yield from cursor
        except psycopg.Error as exc:
            raise JournalError(f"journal query failed: {exc}") from exc

    # -- sealing reads ------------------------------------------------------------
    def bundle_rows(self, stream: str, number: int) -> Iterator[SealRow]:
        return self.row_source().rows(*self._bundle_bounds(stream, number))

    def row_source(self) -> PostgresRows:
        return PostgresRows(self.dsn)

    def close(self) -> None:
        self._committer.close()
        self._writer_conn.close()
        with self._lock:
            self._control.close()
