"""PostgresJournal: the journal for several replicas sharing one database.

Appends go through a group-commit writer per process. Every append transaction
first takes one advisory lock, so seqs are handed out and committed in the
same order across replicas: no record commits late with a lower seq than one
already visible. Bundles are opened under another advisory lock and select
unsealed rows (never seq ranges), so even so, nothing could be skipped.
"""

from __future__ import annotations

import threading
from collections.abc import Iterator, Sequence
from concurrent.futures import Future
from datetime import datetime, timedelta
from typing import Any

import psycopg

from archive.codec import decode_body, format_time, parse_time
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
from archive.journal.postgres_schema import MIGRATIONS
from archive.journal.sqlite import BUNDLE_COLUMNS, bundle_from_row, bundle_params, record_row
from archive.model import Record

_APPEND_LOCK = 7_294_001
_BUNDLE_LOCK = 7_294_002
_MIGRATE_LOCK = 7_294_003
_CLAIM_SECONDS = 300


class PostgresJournal:
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
            self._control.execute("SELECT pg_advisory_xact_lock(%s)", (_MIGRATE_LOCK,))
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

    # -- capture --------------------------------------------------------------
    def submit(self, records: Sequence[Record]) -> Future[list[int]]:
        try:
            rows = [record_row(r) for r in records]
        except (TypeError, ValueError) as exc:
            future: Future[list[int]] = Future()
            future.set_exception(JournalError(f"record cannot be serialized: {exc}"))
            return future
        return self._committer.submit(rows)

    def append(self, records: Sequence[Record]) -> list[int]:
        return self.submit(records).result()

    def _commit(self, batch: list[list[tuple[Any, ...]]]) -> list[list[int]]:
        conn = self._writer_conn
        results: list[list[int]] = []
        try:
            with conn.transaction():
                conn.execute("SELECT pg_advisory_xact_lock(%s)", (_APPEND_LOCK,))
                for rows in batch:
                    seqs = []
                    for row in rows:
                        found = conn.execute(
                            "INSERT INTO records (key, platform, workspace, conversation, kind,"
                            " occurred_at, captured_at, blobs, size, body)"
                            " VALUES (%s,%s,%s,%s,%s,%s,%s,%s,%s,%s)"
                            " ON CONFLICT (key) DO NOTHING RETURNING seq",
                            row,
                        ).fetchone()
                        if found is None:
                            found = conn.execute(
                                "SELECT seq FROM records WHERE key = %s", (row[0],)
                            ).fetchone()
                        assert found is not None
                        seqs.append(int(found[0]))
                    results.append(seqs)
        except psycopg.Error as exc:
            raise JournalError(f"journal append failed, nothing was stored: {exc}") from exc
        return results

    # -- helpers --------------------------------------------------------------
    def _query(self, sql: str, params: Sequence[Any] = ()) -> list[Any]:
        with self._lock:
            try:
                return self._control.execute(sql, params).fetchall()
            except psycopg.Error as exc:
                raise JournalError(f"journal read failed: {exc}") from exc

    def _write(self, sql: str, params: Sequence[Any] = ()) -> int:
        with self._lock:
            try:
                return self._control.execute(sql, params).rowcount
            except psycopg.Error as exc:
                raise JournalError(f"journal write failed: {exc}") from exc

    # -- reads ----------------------------------------------------------------
    def get(self, key: str) -> Record | None:
        rows = self._query("SELECT seq, body FROM records WHERE key = %s", (key,))
        return decode_body(bytes(rows[0][1]), rows[0][0]) if rows else None

    def contains(self, keys: Sequence[str]) -> set[str]:
        rows = self._query("SELECT key FROM records WHERE key = ANY(%s)", (list(keys),))
        return {r[0] for r in rows}

    def iter_records(self, after_seq: int = 0, limit: int | None = None) -> Iterator[Record]:
        remaining = limit
        cursor = after_seq
        while remaining is None or remaining > 0:
            page = 1000 if remaining is None else min(1000, remaining)
            rows = self._query(
                "SELECT seq, body FROM records WHERE seq > %s ORDER BY seq LIMIT %s", (cursor, page)
            )
            if not rows:
                return
            for seq, body in rows:
                yield decode_body(bytes(body), seq)
            cursor = rows[-1][0]
            if remaining is not None:
                remaining -= len(rows)

    def stats(self, stream: str) -> JournalStats:
        (total,) = self._query("SELECT count(*) FROM records")[0]
        unsealed, oldest = self._query(
            "SELECT count(*), min(captured_at) FROM records WHERE bundle IS NULL"
        )[0]
        sealed = self._query(
            f"SELECT {BUNDLE_COLUMNS} FROM bundles WHERE stream = %s AND state = %s"  # noqa: S608
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
    def unfinished_bundle(self, stream: str) -> BundleRow | None:
        rows = self._query(
            f"SELECT {BUNDLE_COLUMNS} FROM bundles WHERE stream = %s AND state != %s"  # noqa: S608
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
                with conn.transaction():
                    conn.execute("SELECT pg_advisory_xact_lock(%s)", (_BUNDLE_LOCK,))
                    meta = conn.execute("SELECT value FROM meta WHERE name = 'stream'").fetchone()
                    if meta is None:
                        conn.execute("INSERT INTO meta VALUES ('stream', %s)", (stream,))
                    elif meta[0] != stream:
                        raise SealError(
                            f"this journal seals stream {meta[0]!r}, not {stream!r}; "
                            "one journal feeds exactly one stream"
                        )
                    row = conn.execute(
                        "SELECT max(seq) FROM (SELECT seq, sum(size) OVER (ORDER BY seq) AS total"
                        " FROM records WHERE bundle IS NULL ORDER BY seq LIMIT %s) t"
                        " WHERE total <= %s",
                        (max_records, max_bytes),
                    ).fetchone()
                    last_seq = row[0] if row else None
                    if last_seq is None:
                        row = conn.execute(
                            "SELECT min(seq) FROM records WHERE bundle IS NULL"
                        ).fetchone()
                        last_seq = row[0] if row else None
                    if last_seq is None:
                        return None
                    number_row = conn.execute(
                        "SELECT coalesce(max(number), 0) + 1 FROM bundles WHERE stream = %s",
                        (stream,),
                    ).fetchone()
                    assert number_row is not None
                    number = int(number_row[0])
                    conn.execute(
                        "UPDATE records SET bundle = %s WHERE bundle IS NULL AND seq <= %s",
                        (number, last_seq),
                    )
                    counts = conn.execute(
                        "SELECT count(*), min(seq), max(seq) FROM records WHERE bundle = %s",
                        (number,),
                    ).fetchone()
                    assert counts is not None
                    bundle = BundleRow(
                        stream=stream,
                        number=number,
                        state=BundleState.OPEN,
                        created_at=created_at,
                        retain_until=retain_until,
                        record_count=counts[0],
                        seq_first=counts[1],
                        seq_last=counts[2],
                    )
                    conn.execute(
                        f"INSERT INTO bundles ({BUNDLE_COLUMNS}) VALUES"  # noqa: S608
                        " (%s,%s,%s,%s,%s,%s,%s,%s,%s,%s,%s,%s,%s)",
                        bundle_params(bundle),
                    )
                    return bundle
            except psycopg.Error as exc:
                raise JournalError(f"cannot open a bundle: {exc}") from exc

    def bundle_lines(self, stream: str, number: int) -> Iterator[tuple[int, bytes]]:
        with psycopg.connect(self.dsn) as conn, conn.cursor(name="bundle_lines") as cursor:
            cursor.itersize = 2000
            cursor.execute(
                "SELECT seq, body FROM records WHERE bundle = %s ORDER BY seq", (number,)
            )
            for seq, body in cursor:
                yield seq, bytes(body)

    def bundle_summary(self, stream: str, number: int) -> BundleRowsSummary:
        first, last = self._query(
            "SELECT min(occurred_at), max(occurred_at) FROM records WHERE bundle = %s", (number,)
        )[0]
        conversations = self._query(
            "SELECT DISTINCT platform || ':' || workspace || ':' || conversation AS c"
            " FROM records WHERE bundle = %s ORDER BY c",
            (number,),
        )
        blob_rows = self._query(
            "SELECT blobs FROM records WHERE bundle = %s AND blobs != ''", (number,)
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
            "UPDATE bundles SET state=%s, records_sha256=%s, records_size=%s, records_version=%s,"
            " manifest_sha256=%s, manifest_version=%s WHERE stream = %s AND number = %s",
            (*params[2:3], *params[8:], row.stream, row.number),
        )

    def bundles(self, stream: str) -> list[BundleRow]:
        rows = self._query(
            f"SELECT {BUNDLE_COLUMNS} FROM bundles WHERE stream = %s ORDER BY number",  # noqa: S608
            (stream,),
        )
        return [bundle_from_row(r) for r in rows]

    # -- monitoring -----------------------------------------------------------
    def set_monitoring(self, entry: Monitored) -> None:
        self._write(
            "INSERT INTO monitoring VALUES (%s,%s,%s,%s,%s,%s,%s)"
            " ON CONFLICT (platform, workspace, conversation) DO UPDATE SET"
            " conversation_name = coalesce(excluded.conversation_name,"
            " monitoring.conversation_name),"
            " enabled = excluded.enabled, changed_by = excluded.changed_by,"
            " changed_at = excluded.changed_at",
            (
                entry.platform,
                entry.workspace,
                entry.conversation,
                entry.conversation_name,
                entry.enabled,
                entry.changed_by,
                format_time(entry.changed_at),
            ),
        )

    def monitoring(self, platform: str | None = None) -> list[Monitored]:
        sql = "SELECT * FROM monitoring"
        params: tuple[str, ...] = ()
        if platform is not None:
            sql += " WHERE platform = %s"
            params = (platform,)
        rows = self._query(sql + " ORDER BY platform, workspace, conversation", params)
        return [
            Monitored(p, w, c, n, bool(e), by, parse_time(at)) for (p, w, c, n, e, by, at) in rows
        ]

    def is_monitored(self, platform: str, workspace: str, conversation: str) -> bool:
        rows = self._query(
            "SELECT enabled FROM monitoring WHERE platform=%s AND workspace=%s AND conversation=%s",
            (platform, workspace, conversation),
        )
        return bool(rows and rows[0][0])

    # -- fetch queue ----------------------------------------------------------
    def enqueue_fetch(
        self, record_key: str, platform: str, ref: str, name: str, details: str, now: datetime
    ) -> None:
        self._write(
            "INSERT INTO fetch_queue (record_key, platform, ref, name, details, not_before)"
            " VALUES (%s,%s,%s,%s,%s,%s) ON CONFLICT DO NOTHING",
            (record_key, platform, ref, name, details, format_time(now)),
        )

    def claim_fetches(self, now: datetime, limit: int) -> list[FetchTask]:
        stamp = format_time(now)
        until = format_time(now + timedelta(seconds=_CLAIM_SECONDS))
        rows = self._query(
            "UPDATE fetch_queue SET claimed_until = %s WHERE id IN ("
            " SELECT id FROM fetch_queue WHERE NOT done AND not_before <= %s"
            " AND (claimed_until IS NULL OR claimed_until < %s)"
            " ORDER BY id LIMIT %s FOR UPDATE SKIP LOCKED)"
            " RETURNING id, record_key, platform, ref, name, attempts, not_before, details",
            (until, stamp, stamp, limit),
        )
        return sorted(
            (FetchTask(i, k, p, r, n, a, parse_time(nb), d) for (i, k, p, r, n, a, nb, d) in rows),
            key=lambda t: t.id,
        )

    def finish_fetch(self, task_id: int) -> None:
        self._write(
            "UPDATE fetch_queue SET done = TRUE, claimed_until = NULL WHERE id = %s", (task_id,)
        )

    def retry_fetch(self, task_id: int, not_before: datetime, error: str) -> None:
        self._write(
            "UPDATE fetch_queue SET attempts = attempts + 1, not_before = %s, last_error = %s,"
            " claimed_until = NULL WHERE id = %s",
            (format_time(not_before), error[:500], task_id),
        )

    # -- leases ---------------------------------------------------------------
    def acquire_lease(self, name: str, holder: str, now: datetime, ttl_seconds: float) -> bool:
        expires = format_time(now + timedelta(seconds=ttl_seconds))
        changed = self._write(
            "INSERT INTO leases (name, holder, expires_at) VALUES (%s,%s,%s)"
            " ON CONFLICT (name) DO UPDATE SET holder = excluded.holder,"
            " expires_at = excluded.expires_at"
            " WHERE leases.holder = excluded.holder OR leases.expires_at < %s",
            (name, holder, expires, format_time(now)),
        )
        return changed == 1

    def release_lease(self, name: str, holder: str) -> None:
        self._write("DELETE FROM leases WHERE name = %s AND holder = %s", (name, holder))

    def close(self) -> None:
        self._committer.close()
        self._writer_conn.close()
        with self._lock:
            self._control.close()

    def __enter__(self) -> PostgresJournal:
        return self

    def __exit__(self, *exc: object) -> None:
        self.close()
