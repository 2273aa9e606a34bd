"""Durable appends per second through capture() with 1, 8 and 64 concurrent writers.

Each writer awaits ``capture(journal, [record])`` in a loop (one record per
platform delivery, as the bots do); group commit shares one fsync among them.
Baseline, in the same run: one SQLite commit per record (same WAL and
synchronous=FULL), single writer. Prints records/s and p50/p99 latency.

``--journal postgres`` runs the same on PostgreSQL (``--dsn``, default
``CHATKEEPER_JOURNAL_DSN`` or ``CHATKEEPER_TEST_PG_DSN``; a fresh database is
created for the run and dropped after): a one-commit-per-record baseline,
then 64 writers in one process, then 64 writers split over two processes on
the same journal (as two ``serve`` replicas), with their combined throughput
and p99.

    .venv/bin/python bench/capture.py [--records 20000] [--journal postgres --dsn DSN]
"""

from __future__ import annotations

import argparse
import asyncio
import os
import sqlite3
import sys
import tempfile
import time
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent.parent))

from archive.capture import capture
from archive.journal.sql_base import record_row
from archive.journal.sqlite import SqliteJournal
from bench.records import peak_rss_mb, percentile, records


async def run_writers(
    journal: SqliteJournal, writers: int, total: int, offset: int
) -> tuple[float, list[float]]:
    batch = list(records(total, start=offset))
    per_writer = total // writers
    latencies: list[float] = []

    async def writer(w: int) -> None:
        for record in batch[w * per_writer : (w + 1) * per_writer]:
            started = time.perf_counter()
            await capture(journal, [record])
            latencies.append(time.perf_counter() - started)

    started = time.perf_counter()
    await asyncio.gather(*(writer(w) for w in range(writers)))
    return time.perf_counter() - started, latencies


def baseline(path: Path, total: int) -> tuple[float, list[float]]:
    conn = sqlite3.connect(path, isolation_level=None)
    conn.execute("PRAGMA journal_mode=WAL")
    conn.execute("PRAGMA synchronous=FULL")
    conn.execute(
        "CREATE TABLE records (seq INTEGER PRIMARY KEY AUTOINCREMENT, key TEXT UNIQUE, platform, "
        "workspace, conversation, kind, occurred_at, captured_at, blobs, size, body BLOB)"
    )
    rows = [record_row(r) for r in records(total, start=10_000_000)]
    latencies = []
    started = time.perf_counter()
    for row in rows:
        t = time.perf_counter()
        conn.execute("BEGIN")
        conn.execute(
            "INSERT OR IGNORE INTO records (key, platform, workspace, conversation, kind,"
            " occurred_at, captured_at, blobs, size, body) VALUES (?,?,?,?,?,?,?,?,?,?)",
            row,
        )
        conn.execute("COMMIT")
        latencies.append(time.perf_counter() - t)
    elapsed = time.perf_counter() - started
    conn.close()
    return elapsed, latencies


def line(name: str, count: int, elapsed: float, latencies: list[float]) -> float:
    rate = count / elapsed
    print(
        f"{name:<28} {rate:>10,.0f} rec/s   p50 {percentile(latencies, 50) * 1000:7.2f} ms"
        f"   p99 {percentile(latencies, 99) * 1000:7.2f} ms"
    )
    return rate


def main() -> None:
    parser = argparse.ArgumentParser()
    parser.add_argument("--records", type=int, default=20_000)
    parser.add_argument("--baseline-records", type=int, default=2_000)
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
        print(f"peak RSS {peak_rss_mb():.0f} MB")
        return
    with tempfile.TemporaryDirectory() as tmp:
        base_elapsed, base_lat = baseline(Path(tmp) / "baseline.db", args.baseline_records)
        print(f"capture benchmark: {args.records} records per run, durable (WAL, synchronous=FULL)")
        base_rate = line(
            "baseline: commit per record", args.baseline_records, base_elapsed, base_lat
        )
        for writers in (1, 8, 64):
            with SqliteJournal(Path(tmp) / f"journal-{writers}.db") as journal:
                total = args.records if writers > 1 else max(args.records // 10, 1000)
                elapsed, lat = asyncio.run(
                    run_writers(journal, writers, total, writers * 1_000_000)
                )
                rate = line(f"capture(), {writers} writers", total, elapsed, lat)
                print(f"{'':<28} {rate / base_rate:>10.1f}x baseline")
    print(f"peak RSS {peak_rss_mb():.0f} MB")


if __name__ == "__main__":
    main()
