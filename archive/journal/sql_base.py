"""What the SQLite and PostgreSQL journals share: every query but the dialect.

SQL here uses ``?`` placeholders; an adapter converts them (``%s`` for
psycopg). Adapters provide three things: ``_execute`` (one autocommit
statement), ``_transaction`` (a write transaction, optionally under a named
lock), and ``_commit`` for the group-commit writer; plus their schema.
"""

from __future__ import annotations

from collections.abc import Callable, Collection, Iterator, Sequence
from concurrent.futures import Future
from contextlib import AbstractContextManager
from datetime import datetime, timedelta
from typing import Any, Self

from archive.codec import canonical_json, decode_body, format_time, parse_time, record_to_dict
from archive.errors import JournalError, SealError
from archive.journal.group_commit import CommitCounts, GroupCommitter
from archive.journal.port import BundleRow, BundleState, FetchTask, JournalStats, Monitored
from archive.model import Kind, Record

Execute = Callable[[str, Sequence[Any]], Any]
#: the bound of reads when the adapter commits seqs in order (no high-water mark needed)
NO_BOUND = 2**63 - 1
CLAIM_SECONDS = 300
#: index entries a bundle's extent is summed over at a time (``SqlJournal._next_extent``)
EXTENT_STEP = 4096
BUNDLE_COLUMNS = (
    "stream, number, state, created_at, retain_until, record_count, seq_first, seq_last,"
    " records_sha256, records_size, records_version, manifest_sha256, manifest_version"
)
INSERT_RECORD = (
    "INSERT INTO records (key, platform, workspace, conversation, kind, occurred_at, captured_at,"
    " blobs, size, body) VALUES (?,?,?,?,?,?,?,?,?,?)"
)


def record_row(record: Record) -> tuple[Any, ...]:
    """The journal columns of a record, in INSERT_RECORD order."""
    data = record_to_dict(record)
    body = canonical_json(data)
    return (
        record.key,
        data["platform"],
        record.workspace,
        record.conversation,
        data["kind"],
        data["occurred_at"],
        data["captured_at"],
        " ".join(record.blob_hashes),
        len(body),
        body,
    )


def bundle_from_row(row: Sequence[Any]) -> BundleRow:
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


class SqlJournal:
    """The Journal port on SQL; subclasses supply the connection handling."""

    #: appended to the claim query where the database can skip rows locked by others
    lock_rows = ""
    #: index hint for the (seq, size) index where the planner needs one
    seq_size_hint = ""
    #: index hint for the (platform, conversation, kind, occurred_at) index
    conversation_hint = ""
    _committer: GroupCommitter

    # -- what adapters provide -------------------------------------------------
    def _execute(self, sql: str, params: Sequence[Any] = ()) -> tuple[list[Any], int]:
        """Run one statement (``?`` placeholders); return (rows, rowcount)."""
        raise NotImplementedError

    def _transaction(self, lock: str | None = None) -> AbstractContextManager[Execute]:
        """A write transaction whose ``execute`` returns a cursor; ``lock`` names a mutex."""
        raise NotImplementedError

    def _committed_through(self) -> int:
        """The high-water mark: the highest seq below which no append can still commit.

        Bundles and ``iter_records`` stop at it, so a record that commits late with a
        lower seq is never skipped. An adapter whose appends commit in seq order (SQLite:
        one writer) has no such record and needs no bound.
        """
        return NO_BOUND

    def _query(self, sql: str, params: Sequence[Any] = ()) -> list[Any]:
        return self._execute(sql, params)[0]

    def _write(self, sql: str, params: Sequence[Any] = ()) -> int:
        return self._execute(sql, params)[1]

    # -- capture ----------------------------------------------------------------
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

    @property
    def group_commits(self) -> CommitCounts:
        """Group commits so far and the records in them (their mean size is the batching)."""
        return self._committer.counts

    # -- reads ------------------------------------------------------------------
    def get(self, key: str) -> Record | None:
        rows = self._query("SELECT seq, body FROM records WHERE key = ?", (key,))
        return decode_body(bytes(rows[0][1]), rows[0][0]) if rows else None

    def contains(self, keys: Sequence[str]) -> set[str]:
        found: set[str] = set()
        for start in range(0, len(keys), 500):
            chunk = list(keys[start : start + 500])
            marks = ",".join("?" * len(chunk))
            rows = self._query(f"SELECT key FROM records WHERE key IN ({marks})", chunk)
            found.update(r[0] for r in rows)
        return found

    def iter_records(self, after_seq: int = 0, limit: int | None = None) -> Iterator[Record]:
        remaining = limit
        cursor = after_seq
        bound = self._committed_through()
        while remaining is None or remaining > 0:
            page = 1000 if remaining is None else min(1000, remaining)
            rows = self._query(
                "SELECT seq, body FROM records WHERE seq > ? AND seq <= ? ORDER BY seq LIMIT ?",
                (cursor, bound, page),
            )
            if not rows:
                return
            for seq, body in rows:
                yield decode_body(bytes(body), seq)
            cursor = rows[-1][0]
            if remaining is not None:
                remaining -= len(rows)

    def _stream(self, sql: str, params: Sequence[Any]) -> Iterator[Any]:
        """Rows of one query, streamed on a connection of their own."""
        raise NotImplementedError

    def find_records(
        self,
        platform: str,
        *,
        workspace: str | None = None,
        conversation: str | None = None,
        kinds: Collection[Kind] = (),
        since: datetime | None = None,
    ) -> Iterator[Record]:
        where = ["platform = ?"]
        params: list[Any] = [platform]
        if conversation is not None:
            where.append("conversation = ?")
            params.append(conversation)
        if kinds:
            where.append(f"kind IN ({','.join('?' * len(kinds))})")
            params += sorted(kind.value for kind in kinds)
        if since is not None:
            where.append("occurred_at >= ?")
            params.append(format_time(since))
        if workspace is not None:
            where.append("workspace = ?")
            params.append(workspace)
        sql = (
            f"SELECT seq, body FROM records{self.conversation_hint}"
            f" WHERE {' AND '.join(where)} ORDER BY seq"
        )
        for seq, body in self._stream(sql, params):
            yield decode_body(bytes(body), seq)

    def stats(self, stream: str) -> JournalStats:
        # Triggers keep the counters in the transaction of each insert (schema migration 2).
        counts = {
            name: int(value)
            for name, value in self._query("SELECT name, sum(value) FROM counters GROUP BY name")
        }
        total = counts.get("records", 0)
        first = self._query(
            "SELECT captured_at FROM records WHERE seq > ? ORDER BY seq LIMIT 1",
            (self._sealed_through(),),
        )
        sealed = self._query(
            f"SELECT {BUNDLE_COLUMNS} FROM bundles WHERE stream = ? AND state = ?"
            " ORDER BY number DESC LIMIT 1",
            (stream, BundleState.SEALED.value),
        )
        return JournalStats(
            records=total,
            unsealed=total - counts.get("bundled", 0),
            oldest_unsealed_captured_at=parse_time(first[0][0]) if first else None,
            last_sealed=bundle_from_row(sealed[0]) if sealed else None,
        )

    # -- sealing ----------------------------------------------------------------
    def _sealed_through(self) -> int:
        """The highest seq assigned to a bundle: everything above it is unsealed."""
        return int(self._query("SELECT coalesce(max(seq_last), 0) FROM bundles")[0][0])

    def unfinished_bundles(self, stream: str) -> list[BundleRow]:
        rows = self._query(
            f"SELECT {BUNDLE_COLUMNS} FROM bundles WHERE stream = ? AND state != ? ORDER BY number",
            (stream, BundleState.SEALED.value),
        )
        return [bundle_from_row(r) for r in rows]

    def open_bundle(
        self,
        stream: str,
        *,
        max_records: int,
        max_bytes: int,
        created_at: datetime,
        retain_until: datetime,
    ) -> BundleRow | None:
        # The mark first: a bundle never reaches past a seq that may still commit.
        bound = self._committed_through()
        with self._transaction(lock="bundles") as execute:
            meta = execute("SELECT value FROM meta WHERE name = 'stream'", ()).fetchone()
            if meta is None:
                execute("INSERT INTO meta (name, value) VALUES ('stream', ?)", (stream,))
            elif meta[0] != stream:
                raise SealError(
                    f"this journal seals stream {meta[0]!r}, not {stream!r}; "
                    "one journal feeds exactly one stream"
                )
            (watermark,) = execute("SELECT coalesce(max(seq_last), 0) FROM bundles", ()).fetchone()
            extent = self._next_extent(execute, watermark, bound, max_records, max_bytes)
            if extent is None:
                return None
            count, first, last = extent
            (number,) = execute(
                "SELECT coalesce(max(number), 0) + 1 FROM bundles WHERE stream = ?", (stream,)
            ).fetchone()
            row = BundleRow(
                stream=stream,
                number=int(number),
                state=BundleState.OPEN,
                created_at=created_at,
                retain_until=retain_until,
                record_count=int(count),
                seq_first=int(first),
                seq_last=int(last),
            )
            execute(
                f"INSERT INTO bundles ({BUNDLE_COLUMNS}) VALUES (?,?,?,?,?,?,?,?,?,?,?,?,?)",
                bundle_params(row),
            )
            return row

    def _next_extent(
        self, execute: Execute, watermark: int, bound: int, max_records: int, max_bytes: int
    ) -> tuple[int, int, int] | None:
        """(count, first seq, last seq) of the records in (``watermark``, ``bound``] that fit.

        The (seq, size) index in seq order, ``EXTENT_STEP`` entries at a time: a step that
        fits whole is counted and summed by the database, and only the step where
        ``max_bytes`` falls is read row by row, stopping at the first record that would
        pass it; a single record larger than that is a bundle alone. (A window function
        over ``max_records`` rows cost several times more, and reading every entry into
        Python three times more, under the bundles lock that capture's writer waits on.)
        """
        index = f"records{self.seq_size_hint} WHERE seq > ? AND seq <= ? ORDER BY seq LIMIT ?"
        count = total = first = last = 0
        while count < max_records:
            after, step = last or watermark, min(EXTENT_STEP, max_records - count)
            n, size, low, high = execute(
                "SELECT count(*), coalesce(sum(size), 0), min(seq), max(seq)"
                f" FROM (SELECT seq, size FROM {index}) AS step",
                (after, bound, step),
            ).fetchone()
            if not n:
                break
            if total + int(size) > max_bytes:  # the limit falls in this step
                cursor = execute(f"SELECT seq, size FROM {index}", (after, bound, step))
                try:
                    for seq, row_size in cursor:
                        total += row_size
                        if total > max_bytes and count:
                            break
                        count, last = count + 1, seq
                        first = first or seq
                finally:
                    cursor.close()  # cut short, it must not hold the transaction
                break
            count, total, first, last = count + n, total + int(size), first or low, high
            if n < step:
                break
        return (count, first, last) if count else None

    def update_bundle(self, row: BundleRow) -> None:
        params = bundle_params(row)
        self._write(
            "UPDATE bundles SET state=?, records_sha256=?, records_size=?, records_version=?,"
            " manifest_sha256=?, manifest_version=? WHERE stream = ? AND number = ?",
            (*params[2:3], *params[8:], row.stream, row.number),
        )

    def bundles(self, stream: str) -> list[BundleRow]:
        rows = self._query(
            f"SELECT {BUNDLE_COLUMNS} FROM bundles WHERE stream = ? ORDER BY number",
            (stream,),
        )
        return [bundle_from_row(r) for r in rows]

    def bundle(self, stream: str, number: int) -> BundleRow | None:
        rows = self._query(
            f"SELECT {BUNDLE_COLUMNS} FROM bundles WHERE stream = ? AND number = ?",
            (stream, number),
        )
        return bundle_from_row(rows[0]) if rows else None

    def _bundle_bounds(self, stream: str, number: int) -> tuple[int, int]:
        rows = self._query(
            "SELECT seq_first, seq_last FROM bundles WHERE stream = ? AND number = ?",
            (stream, number),
        )
        if not rows:
            raise JournalError(f"bundle {number} of stream {stream!r} is not in the journal")
        return int(rows[0][0]), int(rows[0][1])

    # -- monitoring -------------------------------------------------------------
    def set_monitoring(self, entry: Monitored) -> None:
        self._write(
            "INSERT INTO monitoring VALUES (?,?,?,?,?,?,?)"
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

    # -- fetch queue ------------------------------------------------------------
    def enqueue_fetch(
        self, record_key: str, platform: str, ref: str, name: str, details: str, now: datetime
    ) -> None:
        self._write(
            "INSERT INTO fetch_queue (record_key, platform, ref, name, details, not_before)"
            " VALUES (?,?,?,?,?,?) ON CONFLICT DO NOTHING",
            (record_key, platform, ref, name, details, format_time(now)),
        )

    def claim_fetches(self, now: datetime, limit: int) -> list[FetchTask]:
        stamp = format_time(now)
        until = format_time(now + timedelta(seconds=CLAIM_SECONDS))
        with self._transaction() as execute:
            rows = execute(
                "SELECT id, record_key, platform, ref, name, attempts, not_before, details"
                " FROM fetch_queue WHERE done = ? AND not_before <= ?"
                " AND (claimed_until IS NULL OR claimed_until < ?)"
                f" ORDER BY id LIMIT ?{self.lock_rows}",
                (False, stamp, stamp, limit),
            ).fetchall()
            for row in rows:
                execute("UPDATE fetch_queue SET claimed_until = ? WHERE id = ?", (until, row[0]))
        return [
            FetchTask(i, k, p, ref, n, a, parse_time(nb), d) for (i, k, p, ref, n, a, nb, d) in rows
        ]

    def finish_fetch(self, task_id: int) -> None:
        self._write(
            "UPDATE fetch_queue SET done = ?, claimed_until = NULL WHERE id = ?", (True, task_id)
        )

    def retry_fetch(self, task_id: int, not_before: datetime, error: str) -> None:
        self._write(
            "UPDATE fetch_queue SET attempts = attempts + 1, not_before = ?, last_error = ?,"
            " claimed_until = NULL WHERE id = ?",
            (format_time(not_before), error[:500], task_id),
        )

    def pending_fetches(self) -> int:
        return int(self._query("SELECT count(*) FROM fetch_queue WHERE done = ?", (False,))[0][0])

    # -- leases -----------------------------------------------------------------
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
        raise NotImplementedError

    def __enter__(self) -> Self:
        return self

    def __exit__(self, *exc: object) -> None:
        self.close()
