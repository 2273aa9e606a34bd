"""Export throughput and memory, through the verifying reader, beside the read path.

1. Fill a SQLite journal with realistic records (``bench/records.py``, Slack
   Events API envelopes of about 1 KB) in 40 channels: 90% messages (a third
   of them replies in threads), 5% edits, 5% reactions. Seal them with the
   default policy into the local SeaweedFS.
2. Baseline, in a fresh subprocess: the read path alone over the same bundles
   in the same store. For each bundle, fetch its manifest and records object,
   SHA-256 the object, decompress it and parse every sealed line into a record.
3. Each format, in a fresh subprocess (so its peak RSS is its own, render
   workers included): ``run_export`` through the real verifying reader
   (``checked_source``: the stream checks, then every manifest, chain link,
   records object hash, size and Merkle root), into a temporary directory.

The read path runs again after each format, and each format's ratio is to
the mean of the read path runs just before and after it, so that a change in
the machine's load during the run weighs on both sides. After eml, a second
baseline: the same number of files (one per message, of the mean size eml
wrote), created in the same layout by as many processes as render workers, with
nothing but ``os.open``, ``os.write``, ``os.close`` and ``os.replace`` from a
partial directory: what creating the files alone costs on the output disk. Prints records/s and
messages/s (message records over the export time), CPU seconds (user and
system, render workers included), peak RSS, output size and the ratios to the
read path in time and in CPU (goals: jsonl at least 0.7, rsmf and html at
least 0.4; eml at least 10,000 messages/s).

    .venv/bin/python bench/export.py [--records 1000000] [--formats jsonl,rsmf,html,eml,slack]
        [--workers N] [--out-dir DIR]
"""

from __future__ import annotations

import argparse
import json
import os
import resource
import shutil
import subprocess
import sys
import tempfile
import time
from collections.abc import Iterator
from dataclasses import replace
from datetime import UTC, datetime
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent.parent))

from archive.bundle import HashingReader, Layout, iter_lines
from archive.clock import SystemClock
from archive.codec import decode_line
from archive.journal.sqlite import SqliteJournal
from archive.keys import load_or_create_signer
from archive.model import Kind, Record
from archive.read import bundle_numbers
from archive.seal import SealPolicy, seal
from archive.store.local_s3 import LocalS3
from archive.store.s3 import S3ArchiveStore, make_client
from archive.verify import original_version
from bench.records import peak_rss_mb, records
from exporters.archive_source import checked_source
from exporters.pipeline import ExportRequest, run_export
from exporters.source import NoBlobs
from exporters.workers import default_workers

BUCKET = "bench-export"
LAYOUT = Layout("bench")
FORMATS = "jsonl,rsmf,html,eml,slack"


def traffic(count: int) -> Iterator[Record]:
    """Realistic records: 90% messages (a third in threads), 5% edits, 5% reactions."""
    earlier: list[Record] = []
    for n, record in enumerate(records(count)):
        target = earlier[-(1 + n % 150)] if len(earlier) > 200 else None
        if target is not None and n % 20 == 19:
            record = replace(
                record,
                kind=Kind.EDIT,
                conversation=target.conversation,
                message_id=target.message_id,
                previous_text=target.text,
                text=f"corrected: {target.text}",
            )
        elif target is not None and n % 20 == 18:
            record = replace(
                record,
                kind=Kind.REACTION_ADDED,
                conversation=target.conversation,
                message_id=target.message_id,
                text=None,
                details={"reaction": "thumbsup"},
            )
        elif target is not None and n % 3 == 0:
            parent = next((r for r in earlier[-40:] if r.conversation == record.conversation), None)
            if parent is not None:
                record = replace(record, thread_id=parent.message_id)
        if record.kind is Kind.MESSAGE:
            earlier.append(record)
            del earlier[:-400]
        yield record


def _store(args: argparse.Namespace) -> S3ArchiveStore:
    client = make_client(
        args.endpoint, os.environ["BENCH_ACCESS_KEY"], os.environ["BENCH_SECRET_KEY"]
    )
    return S3ArchiveStore(client, BUCKET)


def _peak() -> float:
    """This process's peak RSS, or a render worker's if larger."""
    return max(peak_rss_mb(), resource.getrusage(resource.RUSAGE_CHILDREN).ru_maxrss / 1024)


def _cpu() -> float:
    """CPU seconds (user and system) of this process and its finished render workers."""
    own = resource.getrusage(resource.RUSAGE_SELF)
    workers = resource.getrusage(resource.RUSAGE_CHILDREN)
    return own.ru_utime + own.ru_stime + workers.ru_utime + workers.ru_stime


def read_phase(args: argparse.Namespace) -> dict[str, float]:
    """The read path: fetch, SHA-256, decompress and parse every bundle of the stream."""
    store = _store(args)
    started, cpu = time.perf_counter(), _cpu()
    read = 0
    for number in bundle_numbers(store, LAYOUT):
        key = LAYOUT.manifest_key(number)
        version = original_version([v for v in store.versions(key) if v.key == key])
        assert version is not None
        manifest = json.loads(store.get(key, version.version_id))
        spec = manifest["records"]
        body = HashingReader(store.open(spec["key"], spec["version_id"]))
        for line in iter_lines(body):  # type: ignore[arg-type]
            decode_line(line)
            read += 1
        assert body.digest.hexdigest() == spec["sha256"]
    return {
        "seconds": time.perf_counter() - started,
        "cpu": _cpu() - cpu,
        "records": read,
        "peak_rss_mb": _peak(),
    }


def export_phase(args: argparse.Namespace) -> dict[str, float]:
    """One export through the verifying reader."""
    store = _store(args)
    home = Path(args.journal).parent
    signer = load_or_create_signer(home / "keys")
    out = Path(tempfile.mkdtemp(prefix=f"bench-export-{args.phase}-", dir=args.out_dir or home))
    try:
        started, cpu = time.perf_counter(), _cpu()
        source = checked_source(store, LAYOUT, {signer.public.key_id: signer.public})
        result = run_export(
            source,
            NoBlobs(),
            ExportRequest(args.phase),
            out,
            generator="chatkeeper bench",
            tool_version="bench",
            operator="bench",
            now=lambda: datetime.now(UTC),
            signer=signer,
            workers=args.workers,
        )
        seconds, cpu = time.perf_counter() - started, _cpu() - cpu
        assert result.verified
        size = sum(f.stat().st_size for f in out.rglob("*") if f.is_file())
        return {
            "seconds": seconds,
            "cpu": cpu,
            "records": result.records_read,
            "files": result.file_count,
            "bytes": size,
            "peak_rss_mb": _peak(),
        }
    finally:
        shutil.rmtree(out, ignore_errors=True)


def _create_files(root: Path, first: int, count: int, size: int) -> None:
    """``count`` files of ``size`` bytes in 40 x 30 directories, each renamed into place."""
    partial = root / f".partial-{first}"
    partial.mkdir()
    data = b"x" * size
    made: set[Path] = set()
    flags = os.O_WRONLY | os.O_CREAT | os.O_EXCL | os.O_CLOEXEC
    for n in range(first, first + count):
        folder = root / f"c{n % 40:02d}" / f"d{n // 40 % 30:02d}"
        if folder not in made:
            folder.mkdir(parents=True, exist_ok=True)
            made.add(folder)
        temporary = partial / str(n)
        fd = os.open(temporary, flags, 0o644)
        os.write(fd, data)
        os.close(fd)
        temporary.replace(folder / f"{n:09d}.eml")


def files_phase(args: argparse.Namespace) -> dict[str, float]:
    """The file-creation floor: ``args.files`` files, shared by ``args.workers`` processes."""
    home = Path(args.journal).parent
    root = Path(tempfile.mkdtemp(prefix="bench-export-files-", dir=args.out_dir or home))
    try:
        share = -(-args.files // args.workers)
        started, cpu = time.perf_counter(), _cpu()
        processes = []
        for first in range(0, args.files, share):
            pid = os.fork()
            if pid == 0:
                try:
                    _create_files(root, first, min(share, args.files - first), args.file_size)
                finally:
                    os._exit(0)
            processes.append(pid)
        for pid in processes:
            os.waitpid(pid, 0)
        return {"seconds": time.perf_counter() - started, "cpu": _cpu() - cpu}
    finally:
        shutil.rmtree(root, ignore_errors=True)


def _files_floor(
    args: argparse.Namespace, endpoint: object, eml: dict[str, float], messages: int
) -> None:
    """Run and print the file-creation floor for the files eml wrote."""
    size = int(eml["bytes"] / max(eml["files"], 1))
    floor = run_phase("files", args, endpoint, ["--files", str(messages), "--file-size", str(size)])
    print(
        f"{'files':>9}: {messages / floor['seconds']:>9,.0f} files/s    (creating {messages:,} "
        f"files of {size:,} bytes alone, {args.workers} processes)  {floor['seconds']:6.1f} s "
        f"(CPU {floor['cpu']:6.1f} s)",
        flush=True,
    )
    print(
        f"{'eml':>9}: ratio to creating its files alone: {floor['seconds'] / eml['seconds']:.2f} "
        f"in time, {floor['cpu'] / eml['cpu']:.2f} in CPU",
        flush=True,
    )


def run_phase(
    phase: str, args: argparse.Namespace, endpoint: object, extra: list[str] | None = None
) -> dict[str, float]:
    creds = endpoint.archiver  # type: ignore[attr-defined]
    process = subprocess.run(
        [
            sys.executable,
            __file__,
            "--phase",
            phase,
            "--journal",
            args.journal,
            "--endpoint",
            endpoint.url,  # type: ignore[attr-defined]
            "--workers",
            str(args.workers),
            *(["--out-dir", args.out_dir] if args.out_dir else []),
            *(extra or []),
        ],
        stdout=subprocess.PIPE,
        text=True,
        check=False,
        env={
            **os.environ,
            "BENCH_ACCESS_KEY": creds.access_key,
            "BENCH_SECRET_KEY": creds.secret_key,
        },
    )
    if process.returncode:
        raise SystemExit(f"benchmark phase {phase} failed with exit code {process.returncode}")
    return dict(json.loads(process.stdout.strip().splitlines()[-1]))


def main() -> None:
    parser = argparse.ArgumentParser(description=(__doc__ or "").splitlines()[0])
    parser.add_argument("--records", type=int, default=1_000_000)
    parser.add_argument("--formats", default=FORMATS)
    parser.add_argument("--workers", type=int, default=default_workers(), help="export.workers")
    parser.add_argument(
        "--out-dir", help="where the exports are written (default: the benchmark's temporary dir)"
    )
    parser.add_argument("--phase", default="all")
    parser.add_argument("--journal")
    parser.add_argument("--endpoint")
    parser.add_argument("--files", type=int, default=0, help=argparse.SUPPRESS)
    parser.add_argument("--file-size", type=int, default=0, help=argparse.SUPPRESS)
    args = parser.parse_args()
    if args.phase == "read":
        print(json.dumps(read_phase(args)))
        return
    if args.phase == "files":
        print(json.dumps(files_phase(args)))
        return
    if args.phase != "all":
        print(json.dumps(export_phase(args)))
        return
    with tempfile.TemporaryDirectory() as tmp, LocalS3(Path(tmp) / "s3") as endpoint:
        server = LocalS3(Path(tmp) / "s3")
        server.endpoint = endpoint
        server.ensure_bucket(BUCKET, days=1)
        args.journal = str(Path(tmp) / "journal.db")
        started = time.perf_counter()
        with SqliteJournal(Path(args.journal)) as journal:
            stream = traffic(args.records)
            messages = 0
            while batch := [r for _, r in zip(range(10_000), stream, strict=False)]:
                messages += sum(1 for r in batch if r.kind is Kind.MESSAGE)
                journal.append(batch)
            store = _store_for(endpoint)
            signer = load_or_create_signer(Path(tmp) / "keys")
            policy = SealPolicy(layout=LAYOUT, retention_days=1, min_retention_days=1)
            report = seal(journal, store, signer, policy, SystemClock())
        print(
            f"sealed {report.records:,} records ({messages:,} messages) in 40 channels into "
            f"{len(report.bundles)} bundles ({time.perf_counter() - started:.0f} s); "
            f"render workers: {args.workers} ({os.cpu_count()} CPUs)",
            flush=True,
        )
        before = _read_path(args, endpoint, report.records, messages)
        for fmt in args.formats.split(","):
            got = run_phase(fmt, args, endpoint)
            assert got["records"] == report.records
            print(
                f"{fmt:>9}: {got['records'] / got['seconds']:>9,.0f} records/s  "
                f"{messages / got['seconds']:>9,.0f} messages/s  peak RSS "
                f"{got['peak_rss_mb']:5.0f} MB  {got['seconds']:6.1f} s (CPU {got['cpu']:6.1f} s)  "
                f"output {got['bytes'] / 1e6:7.1f} MB in {got['files']:,.0f} files",
                flush=True,
            )
            if fmt == "eml":
                _files_floor(args, endpoint, got, messages)
            after = _read_path(args, endpoint, report.records, messages)
            base = {k: (before[k] + after[k]) / 2 for k in ("seconds", "cpu")}
            print(
                f"{fmt:>9}: ratio to the read path (the runs before and after): "
                f"{base['seconds'] / got['seconds']:.2f} in time, {base['cpu'] / got['cpu']:.2f} in CPU",
                flush=True,
            )
            before = after


def _read_path(
    args: argparse.Namespace, endpoint: object, records: int, messages: int
) -> dict[str, float]:
    """One run of the read path, printed."""
    base = run_phase("read", args, endpoint)
    assert base["records"] == records
    print(
        f"{'read path':>9}: {base['records'] / base['seconds']:>9,.0f} records/s  "
        f"{messages / base['seconds']:>9,.0f} messages/s  peak RSS {base['peak_rss_mb']:5.0f} MB"
        f"  {base['seconds']:6.1f} s (CPU {base['cpu']:6.1f} s)  (fetch, SHA-256, decompress, parse)",
        flush=True,
    )
    return base


def _store_for(endpoint: object) -> S3ArchiveStore:
    creds = endpoint.archiver  # type: ignore[attr-defined]
    return S3ArchiveStore(
        make_client(endpoint.url, creds.access_key, creds.secret_key),  # type: ignore[attr-defined]
        BUCKET,
    )


if __name__ == "__main__":
    main()
