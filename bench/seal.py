"""Seal a large journal to the local SeaweedFS beside the minimal honest pipeline.

1. Fill a SQLite journal with N realistic records (~1 KB raw each).
2. In a fresh subprocess (so peak RSS is sealing's own), seal them all with
   ``--workers`` build processes (``archive.seal_workers``, default 2).
3. Baseline, same journal, same run, same bundle boundaries, each in a fresh
   subprocess: the minimal pipeline (read the rows in seq order, SHA-256 each
   sealed line, zstd at the same level, SHA-256 the object, upload it with the
   same Object Lock headers and checksum), in one process and in two processes
   that split the bundles between them.

Prints records/s, MB/s of record bodies, peak RSS (the sealing process and its
workers), sealing time over the minimal pipeline in one and in two processes
(the goal is at most 1.5x), and the CPU time per record of each (the sealing
process, its workers, and the minimal pipeline's processes): on a shared
machine the CPU figures move less with the load than the wall-clock ones.

With ``--rounds N`` it seals N fresh copies of the journal (each to a stream of its own), each
followed by both baselines, and prints every round and the medians: the load of a shared machine
moves between the phases of one round less than between runs.

    .venv/bin/python bench/seal.py [--records 1000000] [--rounds 3]
"""

from __future__ import annotations

import argparse
import base64
import contextlib
import hashlib
import json
import os
import resource
import shutil
import sqlite3
import statistics
import subprocess
import sys
import tempfile
import threading
import time
from datetime import UTC, datetime, timedelta
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent.parent))

import zstandard

from archive.bundle import Layout
from archive.clock import SystemClock
from archive.journal.sqlite import SqliteJournal
from archive.keys import load_or_create_signer
from archive.seal import SealPolicy, seal
from archive.store.local_s3 import LocalS3
from archive.store.s3 import S3ArchiveStore, make_client
from bench.records import fill_journal, peak_rss_mb

BUCKET = "bench-seal"
#: the figures of each round whose medians are printed, and how
SUMMARY = {
    "sealing records/s": "{:,.0f}",
    "sealing time / minimal pipeline (1 process)": "{:.2f}x",
    "sealing time / minimal pipeline (2 processes)": "{:.2f}x",
    "sealing CPU per record": "{:.1f} us",
    "sealing CPU / minimal pipeline CPU (1 process)": "{:.2f}x",
}


def _client(endpoint: str) -> object:
    return make_client(endpoint, os.environ["BENCH_ACCESS_KEY"], os.environ["BENCH_SECRET_KEY"])


def cpu_seconds(who: int = resource.RUSAGE_SELF) -> float:
    usage = resource.getrusage(who)
    return usage.ru_utime + usage.ru_stime


class WorkerPeaks(threading.Thread):
    """Samples the peak resident set (VmHWM) of this process's sealing workers.

    ``RUSAGE_CHILDREN`` will not do: a child's maxrss counts the parent's resident set at
    fork. VmHWM only grows, so the last sample of each worker is its peak, give or take
    the last interval. Only this process's children are read (``/proc/self/task/*/children``)
    and the sampler's own CPU time is kept apart (``cpu_seconds``), to be left out of sealing's.
    """

    def __init__(self) -> None:
        super().__init__(daemon=True)
        self.peaks: dict[int, float] = {}
        self.cpu_seconds = 0.0
        self.done = threading.Event()

    def run(self) -> None:
        started = time.thread_time()
        while not self.done.wait(0.1):
            for children in Path("/proc/self/task").glob("*/children"):
                with contextlib.suppress(OSError):
                    for pid in children.read_text().split():
                        self._sample(Path("/proc", pid))
        self.cpu_seconds = time.thread_time() - started

    def _sample(self, entry: Path) -> None:
        with contextlib.suppress(OSError):
            if b"archive.seal_build" in (entry / "cmdline").read_bytes():
                for line in (entry / "status").read_text().splitlines():
                    if line.startswith("VmHWM:"):
                        self.peaks[int(entry.name)] = int(line.split()[1]) / 1024


def seal_phase(args: argparse.Namespace) -> dict[str, float]:
    """Runs in the subprocess: seal everything."""
    store = S3ArchiveStore(_client(args.endpoint), BUCKET)  # type: ignore[arg-type]
    policy = SealPolicy(
        layout=Layout(args.stream),
        retention_days=1,
        min_retention_days=1,
        build_workers=args.workers,
    )
    with SqliteJournal(Path(args.journal)) as journal:
        signer = load_or_create_signer(Path(args.journal).parent / "keys")
        peaks = WorkerPeaks()
        peaks.start()
        cpu = cpu_seconds()
        started = time.perf_counter()
        report = seal(journal, store, signer, policy, SystemClock())
        elapsed = time.perf_counter() - started
        peaks.done.set()
        peaks.join()
        cpu = cpu_seconds() - cpu - peaks.cpu_seconds
    return {
        "cpu_seconds": cpu,
        "worker_cpu_seconds": cpu_seconds(resource.RUSAGE_CHILDREN),
        "seconds": elapsed,
        "records": report.records,
        "bundles": len(report.bundles),
        "compressed_bytes": sum(b.records_size or 0 for b in report.bundles),
        "peak_rss_mb": peak_rss_mb(),
        "worker_peak_rss_mb": max(peaks.peaks.values(), default=0.0),
    }


def minimal_phase(args: argparse.Namespace) -> dict[str, float]:
    """Runs in the subprocess: the minimal pipeline over bundles ``part`` of ``parts``."""
    client = _client(args.endpoint)
    conn = sqlite3.connect(args.journal)
    bounds = conn.execute("SELECT number, seq_first, seq_last FROM bundles ORDER BY number")
    mine = [b for b in bounds.fetchall() if b[0] % args.parts == args.part]
    retain = (datetime.now(UTC) + timedelta(days=1)).replace(microsecond=0)
    records = 0
    cpu = cpu_seconds()
    started = time.perf_counter()
    for number, first, last in mine:
        compressor = zstandard.ZstdCompressor(level=3, write_checksum=True, threads=-1)
        chunks = []
        cursor = conn.execute(
            "SELECT seq, body FROM records WHERE seq BETWEEN ? AND ? ORDER BY seq", (first, last)
        )
        writer = compressor.chunker(chunk_size=1 << 20)
        for seq, body in cursor:
            line = b'{"record":' + body + b',"seq":' + str(seq).encode() + b"}\n"
            hashlib.sha256(line).digest()
            chunks.extend(writer.compress(line))
            records += 1
        chunks.extend(writer.finish())
        data = b"".join(chunks)
        digest = hashlib.sha256(data).digest()
        client.put_object(  # type: ignore[attr-defined]
            Bucket=BUCKET,
            Key=f"baseline/{args.stream}/{args.parts}/{number}",
            Body=data,
            ChecksumSHA256=base64.b64encode(digest).decode(),
            ObjectLockMode="COMPLIANCE",
            ObjectLockRetainUntilDate=retain,
        )
    return {
        "seconds": time.perf_counter() - started,
        "cpu_seconds": cpu_seconds() - cpu,
        "records": records,
        "peak_rss_mb": peak_rss_mb(),
    }


def run_phase(phase: str, journal: Path, endpoint: object, *extra: str) -> subprocess.Popen[str]:
    creds = endpoint.archiver  # type: ignore[attr-defined]
    return subprocess.Popen(
        [
            sys.executable,
            __file__,
            "--phase",
            phase,
            "--journal",
            str(journal),
            "--endpoint",
            endpoint.url,  # type: ignore[attr-defined]
            *extra,
        ],
        stdout=subprocess.PIPE,
        text=True,
        env={
            **os.environ,
            "BENCH_ACCESS_KEY": creds.access_key,
            "BENCH_SECRET_KEY": creds.secret_key,
        },
    )


def result_of(process: subprocess.Popen[str]) -> dict[str, float]:
    out, _ = process.communicate()
    if process.returncode:
        raise SystemExit(f"benchmark phase failed with exit code {process.returncode}")
    return dict(json.loads(out.strip().splitlines()[-1]))


def main() -> None:
    parser = argparse.ArgumentParser()
    parser.add_argument("--records", type=int, default=1_000_000)
    parser.add_argument("--phase", default="all")
    parser.add_argument("--journal")
    parser.add_argument("--endpoint")
    parser.add_argument("--stream", default="bench")
    parser.add_argument("--part", type=int, default=0)
    parser.add_argument("--parts", type=int, default=1)
    parser.add_argument("--workers", type=int, default=2, help="archive.seal_workers")
    parser.add_argument(
        "--rounds",
        type=int,
        default=1,
        help="seal a fresh copy of the journal and run both baselines this many times, "
        "alternating, so that each round's ratios see the same load; the medians follow",
    )
    args = parser.parse_args()
    if args.phase == "seal":
        print(json.dumps(seal_phase(args)))
        return
    if args.phase == "minimal":
        print(json.dumps(minimal_phase(args)))
        return
    with tempfile.TemporaryDirectory() as tmp, LocalS3(Path(tmp) / "s3") as endpoint:
        server = LocalS3(Path(tmp) / "s3")
        server.endpoint = endpoint
        server.ensure_bucket(BUCKET, days=1)
        journal_path = Path(tmp) / "journal.db"
        started = time.perf_counter()
        with SqliteJournal(journal_path) as journal:
            raw_bytes = fill_journal(journal, args.records)
            (body_bytes,) = journal._query("SELECT sum(size) FROM records")[0]
        print(
            f"filled journal: {args.records:,} records, {raw_bytes / 1e6:,.0f} MB raw payloads, "
            f"{body_bytes / 1e6:,.0f} MB record bodies ({time.perf_counter() - started:.0f} s)"
        )
        rounds = []
        for number in range(1, args.rounds + 1):
            if args.rounds == 1:
                rounds.append(run_round(args, journal_path, endpoint, "bench", body_bytes))
                continue
            # Each round seals its own copy of the unsealed journal, in a directory of its own.
            directory = Path(tmp) / f"round{number}"
            directory.mkdir()
            shutil.copyfile(journal_path, directory / "journal.db")
            print(f"round {number} of {args.rounds}, load average {_load()}")
            stream = f"bench{number}"
            rounds.append(run_round(args, directory / "journal.db", endpoint, stream, body_bytes))
            shutil.rmtree(directory)
    if args.rounds > 1:
        print(f"medians of {args.rounds} rounds:")
        for name, shown in SUMMARY.items():
            print(f"  {name} = {shown.format(statistics.median(r[name] for r in rounds))}")


def _load() -> str:
    return " ".join(f"{x:.1f}" for x in os.getloadavg())


def run_round(
    args: argparse.Namespace, journal_path: Path, endpoint: object, stream: str, body_bytes: int
) -> dict[str, float]:
    """Seal the journal, then run both baselines on its bundles; print and return the figures."""
    result = result_of(
        run_phase(
            "seal", journal_path, endpoint, "--workers", str(args.workers), "--stream", stream
        )
    )
    one = result_of(run_phase("minimal", journal_path, endpoint, "--stream", stream))
    pair = [
        run_phase(
            "minimal", journal_path, endpoint, "--part", str(p), "--parts", "2", "--stream", stream
        )
        for p in (0, 1)
    ]
    two = [result_of(p) for p in pair]
    seconds = result["seconds"]
    print(
        f"sealed {result['records']:,} records into {result['bundles']} bundles "
        f"({result['compressed_bytes'] / 1e6:,.0f} MB compressed) in {seconds:.1f} s"
    )
    print(
        f"  {result['records'] / seconds:,.0f} records/s, {body_bytes / 1e6 / seconds:,.0f} MB/s of "
        f"record bodies, peak RSS {result['peak_rss_mb']:.0f} MB "
        f"(each of {args.workers} build workers at most {result['worker_peak_rss_mb']:.0f} MB)"
    )
    print(
        f"minimal pipeline, 1 process: {one['seconds']:.1f} s, "
        f"{one['records'] / one['seconds']:,.0f} records/s, peak RSS {one['peak_rss_mb']:.0f} MB"
    )
    two_seconds = max(t["seconds"] for t in two)
    print(
        f"minimal pipeline, 2 processes: {two_seconds:.1f} s, "
        f"{sum(t['records'] for t in two) / two_seconds:,.0f} records/s"
    )
    print(f"  sealing time / minimal pipeline (1 process) = {seconds / one['seconds']:.2f}x")
    print(f"  sealing time / minimal pipeline (2 processes) = {seconds / two_seconds:.2f}x")
    per = 1e6 / result["records"]
    seal_cpu = result["cpu_seconds"] + result["worker_cpu_seconds"]
    one_cpu, two_cpu = one["cpu_seconds"], sum(t["cpu_seconds"] for t in two)
    print(
        f"CPU per record: sealing {seal_cpu * per:.1f} us (sealing process "
        f"{result['cpu_seconds'] * per:.1f}, workers {result['worker_cpu_seconds'] * per:.1f}), "
        f"minimal pipeline {one_cpu * per:.1f} us (1 process), {two_cpu * per:.1f} us (2 processes)"
    )
    print(f"  sealing CPU / minimal pipeline CPU (1 process) = {seal_cpu / one_cpu:.2f}x")
    return {
        "sealing records/s": result["records"] / seconds,
        "sealing time / minimal pipeline (1 process)": seconds / one["seconds"],
        "sealing time / minimal pipeline (2 processes)": seconds / two_seconds,
        "sealing CPU per record": seal_cpu * per,
        "sealing CPU / minimal pipeline CPU (1 process)": seal_cpu / one_cpu,
    }


if __name__ == "__main__":
    main()
