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

Each figure also shows the CPU time per record of the benchmark process(es) (all threads) and
of the PostgreSQL server (every ``postgres`` process, from ``/proc``, when the server runs on
this machine), the cores they kept busy, and the cores other work took meanwhile. From them:
the CPU ceiling of two processes over one (cores over the 2-process run's CPU per record,
against the 1-process rate), on all cores and on those other work left.

Ratios printed: capture()/raw (goal >= 0.7) and two processes/one (goal >= 1.5), of the best
rounds and within each round (its figures measured minutes apart, under the same load). The
machine may be shared: ``rounds`` (``--rounds``) repeats capture(), the raw inserts and the
two processes in turn, and each figure is its best round (least disturbed by other work).
"""

from __future__ import annotations

import asyncio
import multiprocessing
import os
import secrets
import time
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from dataclasses import dataclass
from multiprocessing.synchronize import Event
from pathlib import Path
from typing import Any

import psycopg
from psycopg.conninfo import make_conninfo

from archive.capture import capture
from archive.journal.postgres import PostgresJournal
from archive.journal.sql_base import record_row
from archive.model import Record
from bench.records import records

WRITERS = 64
_TICK = os.sysconf("SC_CLK_TCK")
Line = Callable[[str, int, float, list[float], float], float]
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


def server_cpu() -> float:
    """CPU seconds the local PostgreSQL server has used so far, or nan if it is not local.

    Every ``postgres`` process's own user and system time, plus what the postmaster has
    reaped from backends that exited. Other sessions on the same server count too.
    """
    total, found = 0, False
    for entry in os.scandir("/proc"):
        if not entry.name.isdigit():
            continue
        try:
            text = Path(entry.path, "stat").read_text()
        except OSError:
            continue
        comm, _, rest = text.partition(" (")[2].rpartition(") ")
        if comm != "postgres":
            continue
        fields = rest.split()  # fields[0] is the state, field 3 of the stat line
        total += int(fields[11]) + int(fields[12])  # utime, stime
        if fields[1] == "1" or not _is_postgres(fields[1]):  # the postmaster
            total += int(fields[13]) + int(fields[14])  # cutime, cstime
        found = True
    return total / _TICK if found else float("nan")


def machine_cpu() -> float:
    """CPU seconds all processes of the machine have used so far (user, system, irq, steal)."""
    fields = Path("/proc/stat").read_text().split("\n", 1)[0].split()[1:9]
    user, nice, system, _idle, _iowait, irq, softirq, steal = map(int, fields)
    return (user + nice + system + irq + softirq + steal) / _TICK


def _is_postgres(pid: str) -> bool:
    try:
        return Path("/proc", pid, "comm").read_text().strip() == "postgres"
    except OSError:
        return False


class BatchSizes(PostgresJournal):
    """PostgresJournal that notes the size of every group commit (to replay them raw)."""

    def __init__(self, dsn: str) -> None:
        self.sizes: list[int] = []
        super().__init__(dsn)

    def _commit(self, batch: list[list[tuple[Any, ...]]]) -> list[list[int]]:
        self.sizes.append(sum(len(rows) for rows in batch))
        return super()._commit(batch)


@dataclass(frozen=True)
class Figure:
    """One measurement: wall time, latencies, and the CPU time of client and server meanwhile."""

    elapsed: float
    latencies: list[float]
    client_cpu: float  # the benchmark process(es), all threads
    server_cpu: float  # the PostgreSQL server, all processes (nan if not local)
    machine_cpu: float  # every process of the machine, the two above and others' work


@contextmanager
def cpu_meter(out: list[float]) -> Iterator[None]:
    """Append the block's wall time, and this process's, the server's and the machine's CPU."""
    wall, cpu, server, machine = (
        time.perf_counter(),
        time.process_time(),
        server_cpu(),
        machine_cpu(),
    )
    yield
    out += [
        time.perf_counter() - wall,
        time.process_time() - cpu,
        server_cpu() - server,
        machine_cpu() - machine,
    ]


def baseline(dsn: str, total: int, offset: int) -> Figure:
    rows = [record_row(r) for r in records(total, start=offset)]
    latencies = []
    spent: list[float] = []
    with psycopg.connect(dsn) as conn, cpu_meter(spent):
        for row in rows:
            t = time.perf_counter()
            conn.execute(INSERT, row)
            conn.commit()
            latencies.append(time.perf_counter() - t)
    return Figure(spent[0], latencies, *spent[1:])


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


def raw_batches(dsn: str, sizes: list[int], offset: int, method: str) -> Figure:
    """The rows inserted in batches of ``sizes``; latency is per batch (a record waits one)."""
    rows = [record_row(r) for r in records(sum(sizes), start=offset)]
    insert = RAW[method]
    latencies = []
    spent: list[float] = []
    with psycopg.connect(dsn, autocommit=True) as conn, cpu_meter(spent):
        at = 0
        for size in sizes:
            t = time.perf_counter()
            insert(conn, rows[at : at + size])
            at += size
            latencies += [time.perf_counter() - t] * size
    return Figure(spent[0], latencies, *spent[1:])


async def _writers(
    journal: PostgresJournal, batch: list[Record], writers: int = WRITERS
) -> tuple[float, float, list[float], float]:
    """Start and end (monotonic), latencies and CPU time of ``writers`` capturing ``batch``."""
    per_writer = len(batch) // writers
    latencies: list[float] = []

    async def writer(w: int) -> None:
        for record in batch[w * per_writer : (w + 1) * per_writer]:
            t = time.perf_counter()
            await capture(journal, [record])
            latencies.append(time.perf_counter() - t)

    cpu = time.process_time()
    started = time.monotonic()
    await asyncio.gather(*(writer(w) for w in range(writers)))
    return started, time.monotonic(), latencies, time.process_time() - cpu


def one_process(dsn: str, total: int, offset: int) -> tuple[Figure, list[int]]:
    with BatchSizes(dsn) as journal:
        batch = list(records(total, start=offset))
        server, machine = server_cpu(), machine_cpu()
        started, ended, latencies, cpu = asyncio.run(_writers(journal, batch))
        server, machine = server_cpu() - server, machine_cpu() - machine
        return Figure(ended - started, latencies, cpu, server, machine), journal.sizes


def _process(
    dsn: str, total: int, offset: int, go: Event, out: multiprocessing.Queue[object]
) -> None:
    batch = list(records(total, start=offset))
    with PostgresJournal(dsn) as journal:
        out.put("ready")
        go.wait()
        out.put(asyncio.run(_writers(journal, batch, WRITERS // 2)))


def two_processes(dsn: str, total: int, offset: int) -> Figure:
    spawn = multiprocessing.get_context("spawn")
    go = spawn.Event()
    out: multiprocessing.Queue[object] = spawn.Queue()
    workers = [
        spawn.Process(target=_process, args=(dsn, total // 2, offset + n * total, go, out))
        for n in range(2)
    ]
    for worker in workers:
        worker.start()
    results: list[tuple[float, float, list[float], float]] = []
    ready = 0
    while ready < 2:
        if out.get(timeout=120) == "ready":
            ready += 1
    server, machine = server_cpu(), machine_cpu()
    go.set()
    while len(results) < 2:
        item = out.get(timeout=600)
        if isinstance(item, tuple):
            results.append(item)
    server, machine = server_cpu() - server, machine_cpu() - machine
    for worker in workers:
        worker.join(60)
    started = min(r[0] for r in results)
    ended = max(r[1] for r in results)
    latencies = [lat for r in results for lat in r[2]]
    return Figure(ended - started, latencies, sum(r[3] for r in results), server, machine)


def best(figures: list[Figure]) -> Figure:
    return min(figures, key=lambda f: f.elapsed)


def show(line: Line, name: str, total: int, figure: Figure) -> float:
    """Print a figure's line and its CPU budget: client and server per record, cores busy."""
    rate = line(name, total, figure.elapsed, figure.latencies, figure.client_cpu)
    busy = (figure.client_cpu + figure.server_cpu) / figure.elapsed
    others = max(0.0, figure.machine_cpu / figure.elapsed - busy)
    print(
        f"{'':<34} server cpu {figure.server_cpu / total * 1e6:5.0f} us/rec;"
        f" busy: client + server {busy:4.2f} cores, other work {others:4.2f}"
    )
    return rate


def run_postgres(server: str, total: int, line: Line, rounds: int = 3) -> None:
    total -= total % WRITERS
    print(
        f"capture benchmark on PostgreSQL: {total} records per figure, {WRITERS} writers,"
        f" a fresh database with the journal schema for each; best of {rounds} rounds;"
        f" {os.cpu_count()} cores; load average {load()}"
    )
    with fresh_journal(server) as dsn:
        base_rate = show(
            line, "baseline: commit per record", total, baseline(dsn, total, 10_000_000)
        )
    one: list[Figure] = []
    raw: dict[str, list[Figure]] = {method: [] for method in RAW}
    two: list[Figure] = []
    commits = []
    for _ in range(rounds):
        with fresh_journal(server) as dsn:
            figure, sizes = one_process(dsn, total, 20_000_000)
        one.append(figure)
        commits.append(len(sizes))
        for method in RAW:
            with fresh_journal(server) as dsn:
                raw[method].append(raw_batches(dsn, sizes, 20_000_000, method))
        with fresh_journal(server) as dsn:
            two.append(two_processes(dsn, total, 30_000_000))
    single = best(one)
    rate = show(line, f"capture(), 1 process x {WRITERS}", total, single)
    print(
        f"{'':<28} {rate / base_rate:>10.1f}x baseline;"
        f" {total * len(commits) / sum(commits):.1f} records per group commit on average"
    )
    raw_rate = max(show(line, f"raw {m}, same batches", total, best(f)) for m, f in raw.items())
    print(f"{'capture() / raw batched':<28} {rate / raw_rate:>10.2f}x   (goal >= 0.7)")
    two_rate = show(line, f"capture(), 2 processes x {WRITERS // 2}", total, best(two))
    print(f"{'':<28} {two_rate / base_rate:>10.1f}x baseline")
    print(f"{'two processes / one':<28} {two_rate / rate:>10.2f}x   (goal >= 1.5)")
    # The same ratios within each round (figures measured minutes apart, under the same load)
    paired = [
        (
            min(raw[method][n].elapsed for method in RAW) / figure.elapsed,
            figure.elapsed / two[n].elapsed,
        )
        for n, figure in enumerate(one)
    ]
    print(
        f"{'per round (same load)':<28} capture() / raw "
        + " ".join(f"{a:.2f}" for a, _ in paired)
        + "; two / one "
        + " ".join(f"{b:.2f}" for _, b in paired)
    )
    # What two processes could reach if CPU were the only limit: the cores (all of them,
    # or those other work left) over the client + server CPU per record of the 2-process run.
    pair = best(two)
    per_record = (pair.client_cpu + pair.server_cpu) / total
    cores = os.cpu_count() or 1
    left = cores - max(0.0, (pair.machine_cpu - pair.client_cpu - pair.server_cpu) / pair.elapsed)
    print(
        f"{'CPU ceiling of two / one':<28} {cores / per_record / rate:>10.2f}x"
        f"   ({cores} cores / {per_record * 1e6:.0f} us of CPU per record"
        f" = {cores / per_record:,.0f} rec/s); {left / per_record / rate:.2f}x"
        f" on the {left:.2f} cores other work left"
    )
    print(f"load average at the end {load()}")


def load() -> str:
    return " ".join(f"{value:.2f}" for value in os.getloadavg())
