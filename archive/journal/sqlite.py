"""SqliteJournal: the embedded default journal.

WAL with ``synchronous=FULL``: a commit is on disk when it returns. All record
appends go through one writer thread that drains its queue into a single
transaction (group commit), so many concurrent writers share one fsync; the
single writer also makes seqs visible strictly in order. Other statements use
a second connection behind a lock (WAL lets it read while the writer writes),
and a third runs WAL checkpoints in the background so that commits only fsync
the WAL.
"""

from __future__ import annotations

import contextlib
import itertools
import sqlite3
import threading
from collections.abc import Iterator, Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from archive.errors import JournalError
from archive.journal.fork_guard import sqlite_section
from archive.journal.group_commit import GroupCommitter
from archive.journal.port import SealRow
from archive.journal.sql_base import INSERT_RECORD, Execute, SqlJournal
from archive.journal.sqlite_schema import MIGRATIONS

#: bytes the WAL file is cut back to when it restarts after a complete checkpoint: a burst of
#: capture grows it (the checkpoint cannot finish under a busy writer), and without a limit
#: SQLite keeps the file at its largest size for good
WAL_SIZE_LIMIT = 64 * 1024 * 1024


def connect(path: Path) -> sqlite3.Connection:
    """A connection with the journal's pragmas: WAL, synchronous=FULL, a 30 s busy timeout,
    and a WAL cut back to ``WAL_SIZE_LIMIT`` when it restarts."""
    conn = sqlite3.connect(path, isolation_level=None, check_same_thread=False, timeout=30.0)
    conn.execute("PRAGMA journal_mode=WAL")
    conn.execute("PRAGMA synchronous=FULL")
    conn.execute("PRAGMA busy_timeout=30000")
    conn.execute(f"PRAGMA journal_size_limit={int(WAL_SIZE_LIMIT)}")
    return conn


@dataclass(frozen=True)
class SqliteRows:
    """Seq ranges of one SQLite journal file, read on a connection of their own."""

    path: str

    def rows(self, first: int, last: int) -> Iterator[SealRow]:
        # Row by row in C: this generator runs once per batch, not once per row.
        return itertools.chain.from_iterable(self._batches(first, last))

    def _batches(self, first: int, last: int) -> Iterator[list[SealRow]]:
        conn = connect(Path(self.path))
        try:
            cursor = conn.execute(
                "SELECT seq, body, occurred_at, platform || ':' || workspace || ':' || conversation,"
                " blobs, kind FROM records WHERE seq BETWEEN ? AND ? ORDER BY seq",
                (first, last),
            )
            cursor.arraysize = 2000
            while rows := cursor.fetchmany():
                yield rows
        except sqlite3.Error as exc:
            raise JournalError(f"cannot read journal rows {first}..{last}: {exc}") from exc
        finally:
            conn.close()


class SqliteJournal(SqlJournal):
    """The Journal port on one SQLite file."""

    seq_size_hint = " INDEXED BY records_seq_size"
    conversation_hint = " INDEXED BY records_conversation"

    def __init__(self, path: Path) -> None:
        self.path = path
        try:
            path.parent.mkdir(parents=True, exist_ok=True)
            self._control = connect(path)
            self._migrate()
            self._writer_conn = connect(path)
            self._writer_conn.execute("PRAGMA wal_autocheckpoint=0")
            self._checkpoint_conn = connect(path)
        except (sqlite3.Error, OSError) as exc:
            raise JournalError(f"cannot open journal {path}: {exc}") from exc
        self._lock = threading.Lock()
        self._committer = GroupCommitter(self._guarded_commit)
        self._closed = False
        self._stop_checkpoints = threading.Event()
        self._checkpointer = threading.Thread(
            target=self._checkpoint_loop, name="journal-checkpointer", daemon=True
        )
        self._checkpointer.start()

    def _migrate(self) -> None:
        (version,) = self._control.execute("PRAGMA user_version").fetchone()
        for number, script in enumerate(MIGRATIONS[version:], start=version + 1):
            self._control.executescript(
                f"BEGIN IMMEDIATE;{script};PRAGMA user_version={number};COMMIT;"
            )

    @property
    def schema_version(self) -> int:
        return int(self._query("PRAGMA user_version")[0][0])

    # -- statements ---------------------------------------------------------------
    def _execute(self, sql: str, params: Sequence[Any] = ()) -> tuple[list[Any], int]:
        with self._lock:
            try:
                cursor = self._control.execute(sql, params)
                return cursor.fetchall(), cursor.rowcount
            except sqlite3.Error as exc:
                raise JournalError(f"journal statement failed: {exc}") from exc

    @contextlib.contextmanager
    def _transaction(self, lock: str | None = None) -> Iterator[Execute]:
        # One control connection behind a lock: transactions are already exclusive.
        with self._lock:
            conn = self._control
            try:
                conn.execute("BEGIN IMMEDIATE")
                yield conn.execute
                conn.execute("COMMIT")
            except sqlite3.Error as exc:
                if conn.in_transaction:
                    conn.execute("ROLLBACK")
                raise JournalError(f"journal transaction failed: {exc}") from exc
            except BaseException:
                if conn.in_transaction:
                    conn.execute("ROLLBACK")
                raise

    # -- group commit -------------------------------------------------------------
    def _guarded_commit(self, batch: list[list[tuple[Any, ...]]]) -> list[list[int]]:
        """``_commit`` on the writer thread, never across a fork (``fork_guard``)."""
        with sqlite_section():
            return self._commit(batch)

    def _commit(self, batch: list[list[tuple[Any, ...]]]) -> list[list[int]]:
        """One transaction for the whole batch; duplicates resolve to their existing seq."""
        conn = self._writer_conn
        rows = [row for params in batch for row in params]
        try:
            conn.execute("BEGIN IMMEDIATE")
            seq_of = self._existing_seqs(conn, [row[0] for row in rows])
            fresh: list[tuple[Any, ...]] = []
            for row in rows:
                if row[0] not in seq_of:
                    seq_of[row[0]] = 0  # placeholder: a duplicate later in the batch
                    fresh.append(row)
            if fresh:
                before = self._sequence(conn)
                conn.executemany(INSERT_RECORD, fresh)
                if self._sequence(conn) == before + len(fresh):
                    # AUTOINCREMENT under our single writer hands out consecutive seqs.
                    for offset, row in enumerate(fresh, start=1):
                        seq_of[row[0]] = before + offset
                else:
                    seq_of.update(self._existing_seqs(conn, [row[0] for row in fresh]))
            conn.execute("COMMIT")
        except sqlite3.Error as exc:
            if conn.in_transaction:
                conn.execute("ROLLBACK")
            raise JournalError(f"journal append failed, nothing was stored: {exc}") from exc
        return [[seq_of[row[0]] for row in params] for params in batch]

    @staticmethod
    def _sequence(conn: sqlite3.Connection) -> int:
        row = conn.execute("SELECT seq FROM sqlite_sequence WHERE name = 'records'").fetchone()
        return int(row[0]) if row else 0

    @staticmethod
    def _existing_seqs(conn: sqlite3.Connection, keys: list[str]) -> dict[str, int]:
        found: dict[str, int] = {}
        for start in range(0, len(keys), 500):
            chunk = keys[start : start + 500]
            marks = ",".join("?" * len(chunk))
            found.update(
                conn.execute(f"SELECT key, seq FROM records WHERE key IN ({marks})", chunk)
            )
        return found

    def _checkpoint_loop(self) -> None:
        """Copy the WAL into the database every second, beside the writer (PASSIVE)."""
        while not self._stop_checkpoints.wait(1.0):
            with sqlite_section(), contextlib.suppress(sqlite3.Error):  # busy: next round
                self._checkpoint_conn.execute("PRAGMA wal_checkpoint(PASSIVE)")

    def _stream(self, sql: str, params: Sequence[Any]) -> Iterator[Any]:
        conn = connect(self.path)
        try:
            cursor = conn.execute(sql, params)
            cursor.arraysize = 500
            while rows := cursor.fetchmany():
                yield from rows
        except sqlite3.Error as exc:
            raise JournalError(f"journal query failed: {exc}") from exc
        finally:
            conn.close()

    # -- sealing reads ------------------------------------------------------------
    def bundle_rows(self, stream: str, number: int) -> Iterator[SealRow]:
        return self.row_source().rows(*self._bundle_bounds(stream, number))

    def row_source(self) -> SqliteRows:
        return SqliteRows(str(self.path))

    def close(self) -> None:
        if self._closed:
            return
        self._closed = True
        self._committer.close()
        self._stop_checkpoints.set()
        self._checkpointer.join()
        with contextlib.suppress(sqlite3.Error):  # the WAL stays valid; the next open replays it
            self._checkpoint_conn.execute("PRAGMA wal_checkpoint(TRUNCATE)")
        self._checkpoint_conn.close()
        self._writer_conn.close()
        with self._lock:
            self._control.close()
