"""``bench/capture.py --journal postgres``: capture() on PostgreSQL against raw inserts, one run.

Every figure inserts the same number of realistic records into the journal's own table
(same columns, indexes and counter trigger: each measurement gets a fresh database with
the journal schema, created on the given server and dropped afterwards):

- baseline: one INSERT and one COMMIT per record, one writer;
- capture(), one process: 64 writers awaiting ``capture(journal, [record])`` on one
  ``PostgresJournal`` (group commit); the sizes of the batches it committed are recorded;
- raw batched: the same rows (encoded before the clock starts), in batches of exactly
  those sizes, one transaction each on one connection, no lock, no RETURNING: plain
  ``executemany`` (pipelined by psycopg) and binary COPY; the better one is the raw figure;
- capture(), two processes: the same 64 writers split 32 and 32 over two processes on one
  journal, as two ``serve`` replicas; throughput over the wall time from the first
  writer's start to the last one's end, p99 over both processes' latencies.

Ratios printed: capture()/raw (goal >= 0.7) and two processes/one (goal >= 1.5). The
machine may be shared: ``rounds`` (``--rounds``) repeats capture(), the raw inserts and the
two processes in turn, and each figure is its best round (least disturbed by other work).
"""

from __future__ import annotations

import asyncio
import multiprocessing
import secrets
import time
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from multiprocessing.synchronize import Event
from typing import Any

import psycopg
from psycopg.conninfo import make_conninfo

from archive.capture import capture
from archive.journal.postgres import PostgresJournal
from archive.journal.sql_base import record_row
from bench.records import records

WRITERS = 64
Line = Callable[[str, int, float, list[float]], float]
COLUMNS = (
    "key, platform, workspace, conversation, kind, occurred_at, captured_at, blobs, size, body"
)
INSERT = (
    "INSERT INTO records (key, platform, workspace, conversation, kind, occurred_at,"
    " captured_at, blobs, size, body) VALUES (%s,%s,%s,%s,%s,%s,%s,%s,%s,%s)"
    " ON CONFLICT DO NOTHING"
)


@contextmanager
def fresh_journal(server: str) -> Iterator[str]:
    """A new database holding the journal schema; dropped afterwards."""
    name = f"ck_bench_{secrets.token_hex(6)}"
    with psycopg.connect(server, autocommit=True) as admin:
        admin.execute(f"CREATE DATABASE {name}")
    try:
        dsn = make_conninfo(server, dbname=name)
        PostgresJournal(dsn).close()  # schema
        yield dsn
    finally:
        with psycopg.connect(server, autocommit=True) as admin:
            admin.execute(f"DROP DATABASE IF EXISTS {name} WITH (FORCE)")


class BatchSizes(PostgresJournal):
    """PostgresJournal that notes the size of every group commit (to replay them raw)."""

    def __init__(self, dsn: str) -> None:
        self.sizes: list[int] = []
        super().__init__(dsn)

    def _commit(self, batch: list[list[tuple[Any, ...]]]) -> list[list[int]]:
        self.sizes.append(sum(len(rows) for rows in batch))
        return super()._commit(batch)


def baseline(dsn: str, total: int, offset: int) -> tuple[float, list[float]]:
    rows = [record_row(r) for r in records(total, start=offset)]
    latencies = []
    with psycopg.connect(dsn) as conn:
        started = time.perf_counter()
        for row in rows:
            t = time.perf_counter()
            conn.execute(INSERT, row)
            conn.commit()
            latencies.append(time.perf_counter() - t)
        elapsed = time.perf_counter() - started
    return elapsed, latencies


def _executemany(conn: psycopg.Connection[Any], rows: list[tuple[Any, ...]]) -> None:
    with conn.transaction():
        conn.cursor().executemany(INSERT, rows)


def _copy(conn: psycopg.Connection[Any], rows: list[tuple[Any, ...]]) -> None:
    with (
        conn.transaction(),
        conn.cursor().copy(f"COPY records ({COLUMNS}) FROM STDIN (FORMAT BINARY)") as copy,
    ):
        copy.set_types(["text"] * 8 + ["int4", "bytea"])
        for row in rows:
            copy.write_row(row)


RAW = {"executemany": _executemany, "binary COPY": _copy}


def raw_batches(dsn: str, sizes: list[int], offset: int, method: str) -> tuple[float, list[float]]:
    """The rows inserted in batches of ``sizes``; latency is per batch (a record waits one)."""
    rows = [record_row(r) for r in records(sum(sizes), start=offset)]
    insert = RAW[method]
    latencies = []
    with psycopg.connect(dsn, autocommit=True) as conn:
        started = time.perf_counter()
        at = 0
        for size in sizes:
            t = time.perf_counter()
            insert(conn, rows[at : at + size])
            at += size
            latencies += [time.perf_counter() - t] * size
        elapsed = time.perf_counter() - started
    return elapsed, latencies


async def _writers(
    journal: PostgresJournal, total: int, offset: int, writers: int = WRITERS
) -> tuple[float, float, list[float]]:
    batch = list(records(total, start=offset))
    per_writer = total // writers
    latencies: list[float] = []

    async def writer(w: int) -> None:
        for record in batch[w * per_writer : (w + 1) * per_writer]:
            t = time.perf_counter()
            await capture(journal, [record])
            latencies.append(time.perf_counter() - t)

    started = time.monotonic()
    await asyncio.gather(*(writer(w) for w in range(writers)))
    return started, time.monotonic(), latencies


def one_process(dsn: str, total: int, offset: int) -> tuple[float, list[float], list[int]]:
    with BatchSizes(dsn) as journal:
        started, ended, latencies = asyncio.run(_writers(journal, total, offset))
        return ended - started, latencies, journal.sizes


def _process(
    dsn: str, total: int, offset: int, go: Event, out: multiprocessing.Queue[object]
) -> None:
    with PostgresJournal(dsn) as journal:
        out.put("ready")
        go.wait()
        out.put(asyncio.run(_writers(journal, total, offset, WRITERS // 2)))


def two_processes(dsn: str, total: int, offset: int) -> tuple[float, list[float]]:
    spawn = multiprocessing.get_context("spawn")
    go = spawn.Event()
    out: multiprocessing.Queue[object] = spawn.Queue()
    workers = [
        spawn.Process(target=_process, args=(dsn, total // 2, offset + n * total, go, out))
        for n in range(2)
    ]
    for worker in workers:
        worker.start()
    results: list[tuple[float, float, list[float]]] = []
    ready = 0
    while ready < 2:
        if out.get(timeout=120) == "ready":
            ready += 1
    go.set()
    while len(results) < 2:
        item = out.get(timeout=600)
        if isinstance(item, tuple):
            results.append(item)
    for worker in workers:
        worker.join(60)
    started = min(r[0] for r in results)
    ended = max(r[1] for r in results)
    return ended - started, [lat for r in results for lat in r[2]]


Figure = tuple[float, list[float]]  # elapsed seconds, latencies


def best(figures: list[Figure]) -> Figure:
    return min(figures, key=lambda f: f[0])


def run_postgres(server: str, total: int, line: Line, rounds: int = 3) -> None:
    total -= total % WRITERS
    print(
        f"capture benchmark on PostgreSQL: {total} records per figure, {WRITERS} writers,"
        f" a fresh database with the journal schema for each; best of {rounds} rounds"
    )
    with fresh_journal(server) as dsn:
        base_rate = line("baseline: commit per record", total, *baseline(dsn, total, 10_000_000))
    one: list[Figure] = []
    raw: dict[str, list[Figure]] = {method: [] for method in RAW}
    two: list[Figure] = []
    commits = []
    for _ in range(rounds):
        with fresh_journal(server) as dsn:
            elapsed, lat, sizes = one_process(dsn, total, 20_000_000)
        one.append((elapsed, lat))
        commits.append(len(sizes))
        for method in RAW:
            with fresh_journal(server) as dsn:
                raw[method].append(raw_batches(dsn, sizes, 20_000_000, method))
        with fresh_journal(server) as dsn:
            two.append(two_processes(dsn, total, 30_000_000))
    rate = line(f"capture(), 1 process x {WRITERS}", total, *best(one))
    print(
        f"{'':<28} {rate / base_rate:>10.1f}x baseline;"
        f" {total * len(commits) / sum(commits):.1f} records per group commit on average"
    )
    raw_rate = max(line(f"raw {m}, same batches", total, *best(f)) for m, f in raw.items())
    print(f"{'capture() / raw batched':<28} {rate / raw_rate:>10.2f}x   (goal >= 0.7)")
    two_rate = line(f"capture(), 2 processes x {WRITERS // 2}", total, *best(two))
    print(f"{'':<28} {two_rate / base_rate:>10.1f}x baseline")
    print(f"{'two processes / one':<28} {two_rate / rate:>10.2f}x   (goal >= 1.5)")
