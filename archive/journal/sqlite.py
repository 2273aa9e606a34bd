"""SqliteJournal: the embedded default journal.

WAL with ``synchronous=FULL``: a commit is on disk when it returns. All record
appends go through one writer thread that drains its queue into a single
transaction (group commit), so many concurrent writers share one fsync.
Everything else uses a second connection behind a lock; WAL lets it read while
the writer writes.
"""

from __future__ import annotations

import sqlite3
import threading
from collections.abc import Iterator, Sequence
from concurrent.futures import Future
from datetime import datetime, timedelta
from pathlib import Path
from typing import Any

from archive.codec import decode_body, encode_body, format_time, parse_time
from archive.errors import JournalError, SealError
from archive.journal.group_commit import GroupCommitter
from archive.journal.port import (
    BundleRow,
    BundleRowsSummary,
    BundleState,
    FetchTask,
    JournalStats,
    Monitored,
)
from archive.journal.sqlite_schema import MIGRATIONS
from archive.model import Record

_CLAIM_SECONDS = 300


def record_row(record: Record) -> tuple[Any, ...]:
    """The journal columns of a record: key, platform, ..., size, body."""
    body = encode_body(record)
    return (
        record.key,
        record.platform.value,
        record.workspace,
        record.conversation,
        record.kind.value,
        format_time(record.occurred_at),
        format_time(record.captured_at),
        " ".join(record.blob_hashes),
        len(body),
        body,
    )


def _connect(path: Path) -> sqlite3.Connection:
    conn = sqlite3.connect(path, isolation_level=None, check_same_thread=False, timeout=30.0)
    conn.execute("PRAGMA journal_mode=WAL")
    conn.execute("PRAGMA synchronous=FULL")
    conn.execute("PRAGMA busy_timeout=30000")
    return conn


def bundle_from_row(row: sqlite3.Row | tuple[Any, ...]) -> BundleRow:
    (stream, number, state, created, retain, count, first, last, rsha, rsize, rver, msha, mver) = (
        row
    )
    return BundleRow(
        stream=stream,
        number=number,
        state=BundleState(state),
        created_at=parse_time(created),
        retain_until=parse_time(retain),
        record_count=count,
        seq_first=first,
        seq_last=last,
        records_sha256=rsha,
        records_size=rsize,
        records_version=rver,
        manifest_sha256=msha,
        manifest_version=mver,
    )


BUNDLE_COLUMNS = (
    "stream, number, state, created_at, retain_until, record_count, seq_first, seq_last,"
    " records_sha256, records_size, records_version, manifest_sha256, manifest_version"
)


def bundle_params(row: BundleRow) -> tuple[Any, ...]:
    return (
        row.stream,
        row.number,
        row.state.value,
        format_time(row.created_at),
        format_time(row.retain_until),
        row.record_count,
        row.seq_first,
        row.seq_last,
        row.records_sha256,
        row.records_size,
        row.records_version,
        row.manifest_sha256,
        row.manifest_version,
    )


class SqliteJournal:
    """The Journal port on one SQLite file."""

    def __init__(self, path: Path) -> None:
        self.path = path
        try:
            path.parent.mkdir(parents=True, exist_ok=True)
            self._control = _connect(path)
            self._migrate()
            self._writer_conn = _connect(path)
        except (sqlite3.Error, OSError) as exc:
            raise JournalError(f"cannot open journal {path}: {exc}") from exc
        self._lock = threading.Lock()
        self._committer = GroupCommitter(self._commit)
        self._closed = False

    # -- schema ---------------------------------------------------------------
    def _migrate(self) -> None:
        (version,) = self._control.execute("PRAGMA user_version").fetchone()
        for number, script in enumerate(MIGRATIONS[version:], start=version + 1):
            self._control.executescript(
                f"BEGIN IMMEDIATE;{script};PRAGMA user_version={number};COMMIT;"
            )

    @property
    def schema_version(self) -> int:
        with self._lock:
            return int(self._control.execute("PRAGMA user_version").fetchone()[0])

    # -- capture: group commit --------------------------------------------------
    def submit(self, records: Sequence[Record]) -> Future[list[int]]:
        try:
            params = [record_row(r) for r in records]
        except (TypeError, ValueError) as exc:
            future: Future[list[int]] = Future()
            future.set_exception(JournalError(f"record cannot be serialized: {exc}"))
            return future
        return self._committer.submit(params)

    def append(self, records: Sequence[Record]) -> list[int]:
        return self.submit(records).result()

    def _commit(self, batch: list[list[tuple[Any, ...]]]) -> list[list[int]]:
        conn = self._writer_conn
        results: list[list[int]] = []
        try:
            conn.execute("BEGIN IMMEDIATE")
            for params in batch:
                seqs = []
                for row in params:
                    cur = conn.execute(
                        "INSERT OR IGNORE INTO records (key, platform, workspace, conversation,"
                        " kind, occurred_at, captured_at, blobs, size, body)"
                        " VALUES (?,?,?,?,?,?,?,?,?,?)",
                        row,
                    )
                    if cur.rowcount == 1:
                        seqs.append(int(cur.lastrowid or 0))
                    else:
                        found = conn.execute(
                            "SELECT seq FROM records WHERE key = ?", (row[0],)
                        ).fetchone()
                        seqs.append(int(found[0]))
                results.append(seqs)
            conn.execute("COMMIT")
        except sqlite3.Error as exc:
            if conn.in_transaction:
                conn.execute("ROLLBACK")
            raise JournalError(f"journal append failed, nothing was stored: {exc}") from exc
        return results

    # -- reads ----------------------------------------------------------------
    def _query(self, sql: str, params: Sequence[Any] = ()) -> list[Any]:
        with self._lock:
            try:
                return self._control.execute(sql, params).fetchall()
            except sqlite3.Error as exc:
                raise JournalError(f"journal read failed: {exc}") from exc

    def _write(self, sql: str, params: Sequence[Any] = ()) -> int:
        with self._lock:
            try:
                return self._control.execute(sql, params).rowcount
            except sqlite3.Error as exc:
                raise JournalError(f"journal write failed: {exc}") from exc

    def get(self, key: str) -> Record | None:
        rows = self._query("SELECT seq, body FROM records WHERE key = ?", (key,))
        return decode_body(rows[0][1], rows[0][0]) if rows else None

    def contains(self, keys: Sequence[str]) -> set[str]:
        found: set[str] = set()
        for start in range(0, len(keys), 500):
            chunk = list(keys[start : start + 500])
            marks = ",".join("?" * len(chunk))
            rows = self._query(f"SELECT key FROM records WHERE key IN ({marks})", chunk)  # noqa: S608
            found.update(r[0] for r in rows)
        return found

    def iter_records(self, after_seq: int = 0, limit: int | None = None) -> Iterator[Record]:
        remaining = limit
        cursor = after_seq
        while remaining is None or remaining > 0:
            page = 1000 if remaining is None else min(1000, remaining)
            rows = self._query(
                "SELECT seq, body FROM records WHERE seq > ? ORDER BY seq LIMIT ?", (cursor, page)
            )
            if not rows:
                return
            for seq, body in rows:
                yield decode_body(body, seq)
            cursor = rows[-1][0]
            if remaining is not None:
                remaining -= len(rows)

    def stats(self, stream: str) -> JournalStats:
        (total,) = self._query("SELECT count(*) FROM records")[0]
        unsealed, oldest = self._query(
            "SELECT count(*), min(captured_at) FROM records WHERE bundle IS NULL"
        )[0]
        sealed = self._query(
            f"SELECT {BUNDLE_COLUMNS} FROM bundles WHERE stream = ? AND state = ?"  # noqa: S608
            " ORDER BY number DESC LIMIT 1",
            (stream, BundleState.SEALED.value),
        )
        return JournalStats(
            records=total,
            unsealed=unsealed,
            oldest_unsealed_captured_at=parse_time(oldest) if oldest else None,
            last_sealed=bundle_from_row(sealed[0]) if sealed else None,
        )

    # -- sealing --------------------------------------------------------------
    def _check_stream(self, conn: sqlite3.Connection, stream: str) -> None:
        row = conn.execute("SELECT value FROM meta WHERE name = 'stream'").fetchone()
        if row is None:
            conn.execute("INSERT INTO meta (name, value) VALUES ('stream', ?)", (stream,))
        elif row[0] != stream:
            raise SealError(
                f"this journal seals stream {row[0]!r}, not {stream!r}; "
                "one journal feeds exactly one stream"
            )

    def unfinished_bundle(self, stream: str) -> BundleRow | None:
        rows = self._query(
            f"SELECT {BUNDLE_COLUMNS} FROM bundles WHERE stream = ? AND state != ?"  # noqa: S608
            " ORDER BY number LIMIT 1",
            (stream, BundleState.SEALED.value),
        )
        return bundle_from_row(rows[0]) if rows else None

    def open_bundle(
        self,
        stream: str,
        *,
        max_records: int,
        max_bytes: int,
        created_at: datetime,
        retain_until: datetime,
    ) -> BundleRow | None:
        with self._lock:
            conn = self._control
            try:
                conn.execute("BEGIN IMMEDIATE")
                self._check_stream(conn, stream)
                (last_seq,) = conn.execute(
                    "SELECT max(seq) FROM (SELECT seq, sum(size) OVER (ORDER BY seq) AS total"
                    " FROM records WHERE bundle IS NULL ORDER BY seq LIMIT ?)"
                    " WHERE total <= ?",
                    (max_records, max_bytes),
                ).fetchone()
                if last_seq is None:  # one record larger than max_bytes still gets sealed
                    (last_seq,) = conn.execute(
                        "SELECT min(seq) FROM records WHERE bundle IS NULL"
                    ).fetchone()
                if last_seq is None:
                    conn.execute("COMMIT")
                    return None
                (number,) = conn.execute(
                    "SELECT coalesce(max(number), 0) + 1 FROM bundles WHERE stream = ?", (stream,)
                ).fetchone()
                conn.execute(
                    "UPDATE records SET bundle = ? WHERE bundle IS NULL AND seq <= ?",
                    (number, last_seq),
                )
                count, first, last = conn.execute(
                    "SELECT count(*), min(seq), max(seq) FROM records WHERE bundle = ?", (number,)
                ).fetchone()
                row = BundleRow(
                    stream=stream,
                    number=number,
                    state=BundleState.OPEN,
                    created_at=created_at,
                    retain_until=retain_until,
                    record_count=count,
                    seq_first=first,
                    seq_last=last,
                )
                conn.execute(
                    f"INSERT INTO bundles ({BUNDLE_COLUMNS}) VALUES (?,?,?,?,?,?,?,?,?,?,?,?,?)",  # noqa: S608
                    bundle_params(row),
                )
                conn.execute("COMMIT")
                return row
            except sqlite3.Error as exc:
                if conn.in_transaction:
                    conn.execute("ROLLBACK")
                raise JournalError(f"cannot open a bundle: {exc}") from exc
            except SealError:
                conn.execute("ROLLBACK")
                raise

    def bundle_lines(self, stream: str, number: int) -> Iterator[tuple[int, bytes]]:
        conn = _connect(self.path)
        try:
            cursor = conn.execute(
                "SELECT seq, body FROM records WHERE bundle = ? ORDER BY seq", (number,)
            )
            cursor.arraysize = 2000
            while rows := cursor.fetchmany():
                yield from rows
        finally:
            conn.close()

    def bundle_summary(self, stream: str, number: int) -> BundleRowsSummary:
        first, last = self._query(
            "SELECT min(occurred_at), max(occurred_at) FROM records WHERE bundle = ?", (number,)
        )[0]
        conversations = self._query(
            "SELECT DISTINCT platform || ':' || workspace || ':' || conversation"
            " FROM records WHERE bundle = ? ORDER BY 1",
            (number,),
        )
        blob_rows = self._query(
            "SELECT blobs FROM records WHERE bundle = ? AND blobs != ''", (number,)
        )
        blobs = sorted({h for (text,) in blob_rows for h in text.split()})
        return BundleRowsSummary(
            first_occurred_at=parse_time(first) if first else None,
            last_occurred_at=parse_time(last) if last else None,
            conversations=tuple(c for (c,) in conversations),
            blobs=tuple(blobs),
        )

    def update_bundle(self, row: BundleRow) -> None:
        params = bundle_params(row)
        self._write(
            "UPDATE bundles SET state=?, records_sha256=?, records_size=?, records_version=?,"
            " manifest_sha256=?, manifest_version=? WHERE stream = ? AND number = ?",
            (*params[2:3], *params[8:], row.stream, row.number),
        )

    def bundles(self, stream: str) -> list[BundleRow]:
        rows = self._query(
            f"SELECT {BUNDLE_COLUMNS} FROM bundles WHERE stream = ? ORDER BY number",  # noqa: S608
            (stream,),
        )
        return [bundle_from_row(r) for r in rows]

    # -- monitoring -----------------------------------------------------------
    def set_monitoring(self, entry: Monitored) -> None:
        self._write(
            "INSERT INTO monitoring VALUES (?,?,?,?,?,?,?)"
            " ON CONFLICT (platform, workspace, conversation) DO UPDATE SET"
            " conversation_name = coalesce(excluded.conversation_name, conversation_name),"
            " enabled = excluded.enabled, changed_by = excluded.changed_by,"
            " changed_at = excluded.changed_at",
            (
                entry.platform,
                entry.workspace,
                entry.conversation,
                entry.conversation_name,
                int(entry.enabled),
                entry.changed_by,
                format_time(entry.changed_at),
            ),
        )

    def monitoring(self, platform: str | None = None) -> list[Monitored]:
        sql = "SELECT * FROM monitoring"
        params: tuple[str, ...] = ()
        if platform is not None:
            sql += " WHERE platform = ?"
            params = (platform,)
        rows = self._query(sql + " ORDER BY platform, workspace, conversation", params)
        return [
            Monitored(p, w, c, n, bool(e), by, parse_time(at)) for (p, w, c, n, e, by, at) in rows
        ]

    def is_monitored(self, platform: str, workspace: str, conversation: str) -> bool:
        rows = self._query(
            "SELECT enabled FROM monitoring WHERE platform=? AND workspace=? AND conversation=?",
            (platform, workspace, conversation),
        )
        return bool(rows and rows[0][0])

    # -- fetch queue ----------------------------------------------------------
    def enqueue_fetch(
        self, record_key: str, platform: str, ref: str, name: str, details: str, now: datetime
    ) -> None:
        self._write(
            "INSERT OR IGNORE INTO fetch_queue (record_key, platform, ref, name, details,"
            " not_before) VALUES (?,?,?,?,?,?)",
            (record_key, platform, ref, name, details, format_time(now)),
        )

    def claim_fetches(self, now: datetime, limit: int) -> list[FetchTask]:
        stamp = format_time(now)
        until = format_time(now + timedelta(seconds=_CLAIM_SECONDS))
        with self._lock:
            conn = self._control
            try:
                conn.execute("BEGIN IMMEDIATE")
                rows = conn.execute(
                    "SELECT id, record_key, platform, ref, name, attempts, not_before, details"
                    " FROM fetch_queue WHERE done = 0 AND not_before <= ?"
                    " AND (claimed_until IS NULL OR claimed_until < ?) ORDER BY id LIMIT ?",
                    (stamp, stamp, limit),
                ).fetchall()
                conn.executemany(
                    "UPDATE fetch_queue SET claimed_until = ? WHERE id = ?",
                    [(until, r[0]) for r in rows],
                )
                conn.execute("COMMIT")
            except sqlite3.Error as exc:
                if conn.in_transaction:
                    conn.execute("ROLLBACK")
                raise JournalError(f"cannot claim fetch tasks: {exc}") from exc
        return [
            FetchTask(i, k, p, ref, n, a, parse_time(nb), d) for (i, k, p, ref, n, a, nb, d) in rows
        ]

    def finish_fetch(self, task_id: int) -> None:
        self._write(
            "UPDATE fetch_queue SET done = 1, claimed_until = NULL WHERE id = ?", (task_id,)
        )

    def retry_fetch(self, task_id: int, not_before: datetime, error: str) -> None:
        self._write(
            "UPDATE fetch_queue SET attempts = attempts + 1, not_before = ?, last_error = ?,"
            " claimed_until = NULL WHERE id = ?",
            (format_time(not_before), error[:500], task_id),
        )

    # -- leases ---------------------------------------------------------------
    def acquire_lease(self, name: str, holder: str, now: datetime, ttl_seconds: float) -> bool:
        expires = format_time(now + timedelta(seconds=ttl_seconds))
        changed = self._write(
            "INSERT INTO leases (name, holder, expires_at) VALUES (?,?,?)"
            " ON CONFLICT (name) DO UPDATE SET holder = excluded.holder,"
            " expires_at = excluded.expires_at"
            " WHERE leases.holder = excluded.holder OR leases.expires_at < ?",
            (name, holder, expires, format_time(now)),
        )
        return changed == 1

    def release_lease(self, name: str, holder: str) -> None:
        self._write("DELETE FROM leases WHERE name = ? AND holder = ?", (name, holder))

    def close(self) -> None:
        if self._closed:
            return
        self._closed = True
        self._committer.close()
        self._writer_conn.close()
        with self._lock:
            self._control.close()

    def __enter__(self) -> SqliteJournal:
        return self

    def __exit__(self, *exc: object) -> None:
        self.close()
