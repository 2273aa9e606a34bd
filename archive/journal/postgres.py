"""PostgresJournal: the journal for several replicas sharing one database.

Appends go through a group-commit writer per process. Replicas append at the
same time, so a record may commit late with a lower seq than one already
visible. Every append transaction therefore first takes the append advisory
lock in SHARED mode (appenders never wait on each other) before it draws a
seq. The high-water mark is read under the EXCLUSIVE form of the same lock,
held only while ``max(seq)`` is read: once it is granted, every transaction
that drew a seq before has committed or aborted, and any seq drawn later is
larger (the sequence hands out one value at a time, no per-backend cache).
So no record can still commit at or below the mark, and the gaps below it
are aborted inserts or keys that were already stored, which never fill.
Bundles and ``iter_records`` stop at the mark, so a bundle, still the seq
range above the last sealed seq, never skips a record. PostgreSQL queues new
shared requests behind a waiting exclusive one, so the mark is not starved;
a ``lock_timeout`` keeps a stuck append from holding capture up behind it.

Bundles are opened under another advisory lock; attachment tasks are claimed
with SKIP LOCKED.
"""

from __future__ import annotations

import contextlib
import threading
from collections.abc import Iterator, Sequence
from dataclasses import dataclass, field
from typing import Any

import psycopg
import structlog
from psycopg.pq import TransactionStatus

from archive.errors import JournalError
from archive.journal.group_commit import GroupCommitter
from archive.journal.port import SealRow
from archive.journal.postgres_copy import append_in_one_message, encode_row
from archive.journal.postgres_schema import MIGRATIONS
from archive.journal.sql_base import Execute, SqlJournal

log = structlog.get_logger("chatkeeper.journal")

# The keys are the ones every earlier version used: an older replica's EXCLUSIVE append
# lock still excludes the SHARED appenders and the mark of this version.
_LOCKS = {"append": 7_294_001, "bundles": 7_294_002, "migrate": 7_294_003}
#: how long reading the high-water mark may wait for running appends (and hold new ones up)
MARK_LOCK_TIMEOUT = "5s"


_COLUMNS = (
    "key, platform, workspace, conversation, kind, occurred_at, captured_at, blobs, size, body"
)
_TYPES = ["text"] * 8 + ["int4", "bytea"]
# A batch holding a key already stored is copied (binary COPY) into a temporary table of
# the writer's session, then moved into records in one statement that reports the seq of
# each new key.
_STAGE = (
    "CREATE TEMPORARY TABLE append_stage (key text, platform text, workspace text,"
    " conversation text, kind text, occurred_at text, captured_at text, blobs text,"
    " size integer, body bytea) ON COMMIT DELETE ROWS"
)
_COPY = f"COPY append_stage ({_COLUMNS}) FROM STDIN (FORMAT BINARY)"
# The common case, no key of the batch stored yet: one message (postgres_copy.py) takes the
# shared append lock, draws a seq per row from the table's own sequence (as the column
# default would, in the transaction that holds the lock) and copies the rows with those
# seqs straight into records, then commits. "{sequence}" and "{count}" are filled in.
_APPEND_DIRECT = (
    f"BEGIN; SELECT pg_advisory_xact_lock_shared({_LOCKS['append']});"
    " SELECT nextval('{sequence}') FROM generate_series(1, {count});"
    f" COPY records (seq, {_COLUMNS}) FROM STDIN (FORMAT BINARY); COMMIT"
)
_DIRECT_FIELDS = 11
_SEQS = "SELECT key, seq FROM records WHERE key = ANY(%s)"
# Without parameters, psycopg sends a string of statements as one message: one round trip.
_BEGIN = f"BEGIN; SELECT pg_advisory_xact_lock_shared({_LOCKS['append']})"
_INSERT_MANY = (
    f"INSERT INTO records ({_COLUMNS}) SELECT {_COLUMNS} FROM append_stage"
    " ON CONFLICT (key) DO NOTHING RETURNING key, seq"
)
_INSERT_AND_COMMIT = f"{_INSERT_MANY}; COMMIT"
_IN_TRANSACTION = (TransactionStatus.INTRANS, TransactionStatus.INERROR)


def _rollback_if_open(conn: psycopg.Connection[Any]) -> None:
    """End a transaction that a failed statement left open (nothing of it is stored)."""
    if conn.info.transaction_status in _IN_TRANSACTION:
        with contextlib.suppress(psycopg.Error):
            conn.execute("ROLLBACK")


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
            self._writer_conn = self._open_writer()
            row = self._writer_conn.execute(
                "SELECT pg_get_serial_sequence('records', 'seq')"
            ).fetchone()
            # as an SQL string literal in the append message (quotes doubled)
            self._sequence = str(row[0]).replace("'", "''") if row else ""
        except psycopg.Error as exc:
            raise JournalError(f"cannot open PostgreSQL journal: {exc}") from exc
        self._lock = threading.Lock()
        self._committer = GroupCommitter(self._commit, name="pg-journal-writer")

    def _open_writer(self) -> psycopg.Connection[Any]:
        conn = psycopg.connect(self.dsn, autocommit=True)
        conn.execute(_STAGE)
        return conn

    def _live_control(self) -> psycopg.Connection[Any]:
        """The control connection (under ``self._lock``), opened again if it broke.

        A server restart or a failover breaks every open connection; without this each
        later statement would fail until the process restarts. A broken connection has
        lost its session (locks and transactions end with it), so a new one is the same.
        """
        if self._control.broken:
            log.warning("journal.reconnect", connection="control")
            self._control = psycopg.connect(self.dsn, autocommit=True)
        return self._control

    def _live_writer(self) -> psycopg.Connection[Any]:
        """The group commit's connection (writer thread only), opened again if it broke."""
        if self._writer_conn.broken:
            log.warning("journal.reconnect", connection="writer")
            self._writer_conn = self._open_writer()
        return self._writer_conn

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
                cursor = self._live_control().execute(_pg(sql), params)
                rows = cursor.fetchall() if cursor.description else []
                return rows, cursor.rowcount
            except psycopg.Error as exc:
                raise JournalError(f"journal statement failed: {exc}") from exc

    def _committed_through(self) -> int:
        """The high-water mark (see the module docstring), read on the control connection.

        The exclusive lock is a session lock taken in a short transaction (for its
        ``lock_timeout``) and released right after ``max(seq)`` is read in a statement
        of its own, whose snapshot is taken after the lock was granted.
        """
        with self._lock:
            try:
                conn = self._live_control()
                with conn.transaction():
                    conn.execute(
                        "SELECT set_config('lock_timeout', %s, true)", (MARK_LOCK_TIMEOUT,)
                    )
                    conn.execute("SELECT pg_advisory_lock(%s)", (_LOCKS["append"],))
                try:
                    row = conn.execute("SELECT coalesce(max(seq), 0) FROM records").fetchone()
                finally:
                    conn.execute("SELECT pg_advisory_unlock(%s)", (_LOCKS["append"],))
            except psycopg.errors.LockNotAvailable as exc:
                raise JournalError(
                    f"an append transaction has been open for more than {MARK_LOCK_TIMEOUT};"
                    " the journal's high-water mark cannot be read until it ends"
                ) from exc
            except psycopg.Error as exc:
                raise JournalError(f"cannot read the journal's high-water mark: {exc}") from exc
        return int(row[0]) if row else 0

    @contextlib.contextmanager
    def _transaction(self, lock: str | None = None) -> Iterator[Execute]:
        with self._lock:
            try:
                conn = self._live_control()
                with conn.transaction():
                    if lock is not None:
                        conn.execute("SELECT pg_advisory_xact_lock(%s)", (_LOCKS[lock],))
                    yield lambda sql, params: conn.execute(_pg(sql), params)
            except psycopg.Error as exc:
                raise JournalError(f"journal transaction failed: {exc}") from exc

    # -- group commit -------------------------------------------------------------
    def _commit(self, batch: list[list[tuple[Any, ...]]]) -> list[list[int]]:
        """One transaction for the whole batch, under the shared append lock.

        Its keys all new (the common case), it is one message (``postgres_copy.py``):
        BEGIN, the lock, one seq per row drawn from the table's sequence, a binary COPY of
        the rows with those seqs straight into records, COMMIT; the client waits twice,
        for the seqs and for the commit. When a key of the batch is stored already (a
        redelivery), the COPY fails on the unique key (its seqs stay unused, gaps like
        those of any aborted append) and the batch goes again through the session's stage
        table instead: BEGIN and the lock, COPY into the stage table, then one INSERT ...
        SELECT ... ON CONFLICT DO NOTHING that returns the seq of each new key, sent with
        the COMMIT. Keys already stored resolve to their seq afterwards with one SELECT
        (records are never deleted). Keys repeated in the batch are sent once.
        """
        unique: dict[str, tuple[Any, ...]] = {}
        for rows in batch:
            for row in rows:
                unique.setdefault(row[0], row)
        if not unique:
            return [[] for _ in batch]
        try:
            conn = self._live_writer()
            try:
                seq_of = self._insert_direct(conn, unique)
            except psycopg.errors.UniqueViolation:
                seq_of = self._insert_staged(conn, unique)
            missing = [key for key in unique if key not in seq_of]
        except psycopg.Error as exc:
            raise JournalError(f"journal append failed, nothing was stored: {exc}") from exc
        if missing:
            try:
                seq_of.update(conn.execute(_SEQS, (missing,)).fetchall())
            except psycopg.Error as exc:
                raise JournalError(
                    f"journal append committed, but the seqs of duplicates cannot be read: {exc}"
                ) from exc
        return [[int(seq_of[row[0]]) for row in rows] for rows in batch]

    def _insert_direct(
        self, conn: psycopg.Connection[Any], rows: dict[str, tuple[Any, ...]]
    ) -> dict[str, int]:
        """Copy ``rows`` straight into records in one message (fails on a stored key)."""
        encoded = [encode_row(row) for row in rows.values()]
        message = _APPEND_DIRECT.format(sequence=self._sequence, count=len(encoded))
        try:
            seqs = append_in_one_message(conn, message, encoded, _DIRECT_FIELDS)
        finally:
            _rollback_if_open(conn)
        return dict(zip(rows, seqs, strict=True))

    @staticmethod
    def _insert_staged(
        conn: psycopg.Connection[Any], rows: dict[str, tuple[Any, ...]]
    ) -> dict[str, int]:
        """Copy ``rows`` into the stage table, move the new keys into records; their seqs."""
        cursor = conn.cursor()
        try:
            cursor.execute(_BEGIN)
            with cursor.copy(_COPY) as copy:
                copy.set_types(_TYPES)
                for row in rows.values():
                    copy.write_row(row)
            cursor.execute(_INSERT_AND_COMMIT)
            return {key: int(seq) for key, seq in cursor.fetchall()}
        finally:
            _rollback_if_open(conn)

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
