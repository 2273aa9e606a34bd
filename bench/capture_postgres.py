"""``bench/capture.py --journal postgres``: capture() on PostgreSQL, one and two processes.

A fresh database is created on the given server for the run and dropped
afterwards. Figures, in one run:

- baseline: one INSERT and one COMMIT per record, one writer;
- one process: 64 writers awaiting ``capture(journal, [record])`` on one
  ``PostgresJournal`` (group commit);
- two processes: the same 64 writers split 32 and 32 over two processes on
  the same database, as two ``serve`` replicas; throughput over the wall time
  from the first writer's start to the last one's end, p99 over both
  processes' latencies.
"""

from __future__ import annotations

import asyncio
import multiprocessing
import secrets
import time
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from multiprocessing.synchronize import Event

import psycopg
from psycopg.conninfo import make_conninfo

from archive.capture import capture
from archive.journal.postgres import PostgresJournal
from archive.journal.sql_base import record_row
from bench.records import records

WRITERS = 64
Line = Callable[[str, int, float, list[float]], float]


@contextmanager
def fresh_database(server: str) -> Iterator[str]:
    name = f"ck_bench_{secrets.token_hex(6)}"
    with psycopg.connect(server, autocommit=True) as admin:
        admin.execute(f"CREATE DATABASE {name}")
    try:
        yield make_conninfo(server, dbname=name)
    finally:
        with psycopg.connect(server, autocommit=True) as admin:
            admin.execute(f"DROP DATABASE IF EXISTS {name} WITH (FORCE)")


def baseline(dsn: str, total: int) -> tuple[float, list[float]]:
    rows = [record_row(r) for r in records(total, start=10_000_000)]
    latencies = []
    with psycopg.connect(dsn) as conn:
        started = time.perf_counter()
        for row in rows:
            t = time.perf_counter()
            conn.execute(
                "INSERT INTO records (key, platform, workspace, conversation, kind,"
                " occurred_at, captured_at, blobs, size, body)"
                " VALUES (%s,%s,%s,%s,%s,%s,%s,%s,%s,%s) ON CONFLICT DO NOTHING",
                row,
            )
            conn.commit()
            latencies.append(time.perf_counter() - t)
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


def _process(
    dsn: str, total: int, offset: int, go: Event, out: multiprocessing.Queue[object]
) -> None:
    with PostgresJournal(dsn) as journal:
        out.put("ready")
        go.wait()
        out.put(asyncio.run(_writers(journal, total, offset, WRITERS // 2)))


def two_processes(dsn: str, total: int) -> tuple[float, list[float]]:
    spawn = multiprocessing.get_context("spawn")
    go = spawn.Event()
    out: multiprocessing.Queue[object] = spawn.Queue()
    workers = [
        spawn.Process(target=_process, args=(dsn, total // 2, 30_000_000 + n * 1_000_000, go, out))
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


def run_postgres(server: str, total: int, baseline_total: int, line: Line) -> None:
    with fresh_database(server) as dsn:
        with PostgresJournal(dsn):  # schema
            pass
        print(f"capture benchmark on PostgreSQL: {total} records per run, {WRITERS} writers")
        base_elapsed, base_lat = baseline(dsn, baseline_total)
        base_rate = line("baseline: commit per record", baseline_total, base_elapsed, base_lat)
        with PostgresJournal(dsn) as journal:
            started, ended, lat = asyncio.run(_writers(journal, total, 20_000_000))
        rate = line("capture(), 1 process x 64", total, ended - started, lat)
        print(f"{'':<28} {rate / base_rate:>10.1f}x baseline")
        elapsed, lat = two_processes(dsn, total)
        rate = line("capture(), 2 processes x 32", total, elapsed, lat)
        print(f"{'':<28} {rate / base_rate:>10.1f}x baseline")
