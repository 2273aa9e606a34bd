"""Durable appends per second through capture() with 1, 8 and 64 concurrent writers.

Each writer awaits ``capture(journal, [record])`` in a loop (one record per
platform delivery, as the bots do); group commit shares one fsync among them.
Every figure of one run uses the same realistic records (``bench/records.py``),
the same number of them, and a fresh journal file created by ``SqliteJournal``
itself (same table, indexes and counter trigger), with its background
checkpointer running. The baselines write through a plain ``sqlite3``
connection with the journal's pragmas (WAL, synchronous=FULL, checkpoints
left to the checkpointer); their rows are encoded before the clock starts,
while capture() encodes its records on the clock:

- baseline: one INSERT and one COMMIT per record, one writer; measured
  first and again last (the disk's fsync time drifts on a shared machine),
  and the ratios use the faster of the two;
- raw: ``executemany`` of the rows in batches of the mean size that the
  group commits of the capture() run had, one COMMIT per batch, one writer,
  measured right after that capture() run.

Prints records/s, p50/p99 latency (per record for capture() and the
baseline, per batch for raw), the CPU time of the process per record (all
threads; steadier than wall time on a loaded machine), the mean group commit
size, and the ratios capture()/baseline and capture()/raw.

``--journal postgres`` runs the same on PostgreSQL (``--dsn``, default
``CHATKEEPER_JOURNAL_DSN`` or ``CHATKEEPER_TEST_PG_DSN``; a fresh database with
the journal's schema is created for each figure and dropped after; see
``bench/capture_postgres.py``): the one-commit-per-record baseline, 64
writers in one process, raw inserts of the same rows in that run's group
commit sizes, and 64 writers split over two processes (as two ``serve``
replicas); each the best of ``--rounds``.

    .venv/bin/python bench/capture.py [--records 20000] [--journal postgres --dsn DSN]
"""

from __future__ import annotations

import argparse
import asyncio
import contextlib
import os
import sqlite3
import sys
import tempfile
import time
from collections.abc import Callable, Iterator
from pathlib import Path
from typing import Any

sys.path.insert(0, str(Path(__file__).resolve().parent.parent))

from archive.capture import capture
from archive.journal.sql_base import INSERT_RECORD, record_row
from archive.journal.sqlite import SqliteJournal, connect
from archive.model import Record
from bench.records import peak_rss_mb, percentile, records

WRITERS = (1, 8, 64)
Row = tuple[Any, ...]


@contextlib.contextmanager
def plain_connection(path: Path) -> Iterator[sqlite3.Connection]:
    """A plain connection on a fresh journal file, its ``SqliteJournal`` checkpointing beside it."""
    with SqliteJournal(path):
        conn = connect(path)
        conn.execute("PRAGMA wal_autocheckpoint=0")  # as the journal's writer: the checkpointer
        try:
            yield conn
        finally:
            conn.close()


def baseline(path: Path, rows: list[Row]) -> tuple[float, list[float]]:
    """One INSERT and one COMMIT per record."""
    with plain_connection(path) as conn:
        latencies = []
        started = time.perf_counter()
        for row in rows:
            t = time.perf_counter()
            conn.execute("BEGIN IMMEDIATE")
            conn.execute(INSERT_RECORD, row)
            conn.execute("COMMIT")
            latencies.append(time.perf_counter() - t)
        return time.perf_counter() - started, latencies


def raw_batches(path: Path, rows: list[Row], size: int) -> tuple[float, list[float]]:
    """``executemany`` of ``size`` rows and one COMMIT per batch."""
    with plain_connection(path) as conn:
        latencies = []
        started = time.perf_counter()
        for start in range(0, len(rows), size):
            t = time.perf_counter()
            conn.execute("BEGIN IMMEDIATE")
            conn.executemany(INSERT_RECORD, rows[start : start + size])
            conn.execute("COMMIT")
            latencies.append(time.perf_counter() - t)
        return time.perf_counter() - started, latencies


async def run_writers(
    journal: SqliteJournal, writers: int, batch: list[Record]
) -> tuple[float, list[float]]:
    """``writers`` coroutines, each awaiting capture() of one record at a time."""
    per_writer = -(-len(batch) // writers)
    latencies: list[float] = []

    async def writer(w: int) -> None:
        for record in batch[w * per_writer : (w + 1) * per_writer]:
            started = time.perf_counter()
            await capture(journal, [record])
            latencies.append(time.perf_counter() - started)

    started = time.perf_counter()
    await asyncio.gather(*(writer(w) for w in range(writers)))
    return time.perf_counter() - started, latencies


def line(
    name: str, count: int, elapsed: float, latencies: list[float], cpu: float | None = None
) -> float:
    rate = count / elapsed
    print(
        f"{name:<34} {rate:>9,.0f} rec/s   p50 {percentile(latencies, 50) * 1000:7.2f} ms"
        f"   p99 {percentile(latencies, 99) * 1000:7.2f} ms"
        + ("" if cpu is None else f"   cpu {cpu / count * 1e6:5.0f} us/rec")
    )
    return rate


def timed(
    run: Callable[..., tuple[float, list[float]]], *args: Any
) -> tuple[float, list[float], float]:
    """``run(*args)``'s elapsed time and latencies, and the process's CPU time meanwhile."""
    cpu = time.process_time()
    elapsed, latencies = run(*args)
    return elapsed, latencies, time.process_time() - cpu


def run_sqlite(total: int) -> None:
    batch = list(records(total))
    rows = [record_row(r) for r in batch]
    body = sum(len(row[-1]) for row in rows) // len(rows)
    print(
        f"capture benchmark: {total:,} realistic records per run ({body:,} B bodies),"
        f" journal schema, durable (WAL, synchronous=FULL); load average {load()}"
    )
    with tempfile.TemporaryDirectory() as tmp:
        folder = Path(tmp)
        before = line(
            "baseline: commit per record", total, *timed(baseline, folder / "b1.db", rows)
        )
        results = []
        for writers in WRITERS:
            with SqliteJournal(folder / f"capture-{writers}.db") as journal:
                measured = timed(asyncio.run, run_writers(journal, writers, batch))
                mean = journal.group_commits.mean_batch
            rate = line(f"capture(), {writers} writers", total, *measured)
            size = max(1, round(mean))
            raw = timed(raw_batches, folder / f"raw-{writers}.db", rows, size)
            results.append((writers, rate, mean, line(f"  raw, batches of {size}", total, *raw)))
        after = line("baseline again, at the end", total, *timed(baseline, folder / "b2.db", rows))
    base = max(before, after)  # the faster baseline: the smaller ratio
    print(f"ratios (baseline: the faster of the two, {base:,.0f} rec/s)")
    for writers, rate, mean, raw_rate in results:
        print(
            f"  {writers:>2} writers: {rate / base:5.2f}x baseline, {rate / raw_rate:5.2f}x raw;"
            f" mean group commit {mean:.1f} records"
        )
    print(f"load average at the end {load()}")


def load() -> str:
    return " ".join(f"{value:.2f}" for value in os.getloadavg())


def main() -> None:
    parser = argparse.ArgumentParser()
    parser.add_argument("--records", type=int, default=20_000)
    parser.add_argument("--journal", choices=("sqlite", "postgres"), default="sqlite")
    parser.add_argument("--dsn", default=None, help="PostgreSQL server to create the run's db on")
    parser.add_argument("--rounds", type=int, default=3, help="PostgreSQL: best of this many")
    args = parser.parse_args()
    if args.journal == "postgres":
        from bench.capture_postgres import run_postgres

        dsn = (
            args.dsn
            or os.environ.get("CHATKEEPER_JOURNAL_DSN")
            or os.environ.get("CHATKEEPER_TEST_PG_DSN")
        )
        if not dsn:
            parser.error("--journal postgres needs --dsn (or CHATKEEPER_JOURNAL_DSN)")
        run_postgres(dsn, args.records, line, args.rounds)
    else:
        run_sqlite(args.records)
    print(f"peak RSS {peak_rss_mb():.0f} MB")


if __name__ == "__main__":
    main()
