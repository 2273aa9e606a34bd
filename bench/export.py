"""Export throughput and memory: 1,000,000 messages to jsonl, html and rsmf.

The records are first sealed into bundle records objects of 100,000 records
(zstd, as in the archive) in a temporary directory. Each timed run reads them
back like the archive reader does (hash the object, decompress, decode every
sealed line) and exports; only the S3 round trip is left out. Each format
runs in its own process so its peak RSS is its own. The baseline is the read
path alone (read, hash, decode every record, export nothing). Prints
messages/s, peak RSS and the ratio to the baseline.

    python bench/export.py [--messages 1000000] [--formats jsonl,html,rsmf]
"""

from __future__ import annotations

import argparse
import hashlib
import json
import multiprocessing
import os
import resource
import shutil
import sys
import tempfile
import time
from collections.abc import Iterator
from datetime import UTC, datetime, timedelta
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent.parent))

import zstandard

from archive.bundle import iter_lines
from archive.codec import decode_line, encode_body, sealed_line
from archive.keys import load_or_create_signer
from archive.model import Actor, Kind, Platform, Record, Source, record_key
from exporters.pipeline import ExportRequest, run_export
from exporters.source import BundleInfo, BundleRecords, NoBlobs
from exporters.workers import default_workers

T0 = datetime(2026, 10, 1, tzinfo=UTC)
CONVERSATIONS = 200
BUNDLE = 100_000
WORKERS = default_workers()
USERS = [Actor(f"U{n:07d}", f"Trader {n}", f"trader{n}@example.com") for n in range(300)]


def records(count: int) -> Iterator[Record]:
    """Realistic traffic: 90% messages (a third in threads), 5% edits, 5% reactions."""
    step = timedelta(seconds=30 * 24 * 3600 / count)
    for n in range(count):
        moment = T0 + step * n
        channel = f"C{n % CONVERSATIONS:08d}"
        actor = USERS[(n * 7) % len(USERS)]
        ts = f"{moment.timestamp():.6f}"
        kind, message_id, text, thread, details = Kind.MESSAGE, ts, None, None, {}
        if n % 20 == 19 and n > 400:
            kind = Kind.EDIT
            earlier = T0 + step * (n - 400)
            message_id = f"{earlier.timestamp():.6f}"
            text = f"corrected: order {n - 400} at 101.{n % 97:02d}"
        elif n % 20 == 18 and n > 200:
            kind = Kind.REACTION_ADDED
            message_id = f"{(T0 + step * (n - 200)).timestamp():.6f}"
            details = {"reaction": "thumbsup"}
        else:
            text = f"Order {n}: buy {n % 500} lots at 101.{n % 97:02d}, settle T+2 — ok? ✅"
            if n % 3 == 0 and n > 600:
                thread = f"{(T0 + step * (n - 600)).timestamp():.6f}"
        raw = json.dumps(
            {"type": "message", "channel": channel, "user": actor.id, "text": text, "ts": ts}
        ).encode()
        yield Record(
            key=record_key("slack", "T0BENCH", channel, ts, kind.value, n),
            platform=Platform.SLACK,
            workspace="T0BENCH",
            conversation=channel,
            conversation_name=f"desk-{n % CONVERSATIONS}",
            kind=kind,
            source=Source.EVENTS_API,
            occurred_at=moment,
            captured_at=moment + timedelta(milliseconds=80),
            raw=raw,
            message_id=message_id,
            thread_id=thread,
            actor=actor,
            text=text,
            details=details,
            seq=n + 1,
        )


def seal_bundles(count: int, directory: Path) -> list[Path]:
    """Write the records as zstd records objects of BUNDLE records each (not timed)."""
    paths: list[Path] = []
    stream = records(count)
    for number in range(1, (count + BUNDLE - 1) // BUNDLE + 1):
        size = min(BUNDLE, count - (number - 1) * BUNDLE)
        path = directory / f"{number:010d}.jsonl.zst"
        compressor = zstandard.ZstdCompressor(level=3, write_checksum=True)
        with path.open("wb") as handle, compressor.stream_writer(handle) as writer:
            for record in (next(stream) for _ in range(size)):
                writer.write(sealed_line(record.seq or 0, encode_body(record)) + b"\n")
        paths.append(path)
    return paths


class SealedFiles:
    """Bundles read back as the archive reader does, from local files instead of S3."""

    def __init__(self, paths: list[Path]) -> None:
        self.paths = paths

    def read_bundles(
        self,
        first: int | None,
        last: int | None,
        allow_unverified: bool,
        select: object = None,
    ) -> Iterator[BundleRecords]:
        for number, path in enumerate(self.paths, 1):
            data = path.read_bytes()
            info = BundleInfo(number, hashlib.sha256(data).hexdigest(), None, None)
            with path.open("rb") as handle:
                yield BundleRecords(info, (decode_line(line) for line in iter_lines(handle)))


def peak_rss_mb() -> float:
    """The peak RSS of the largest process: this one or any render worker it forked."""
    own = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss
    workers = resource.getrusage(resource.RUSAGE_CHILDREN).ru_maxrss
    return max(own, workers) / 1024


Queue = multiprocessing.Queue  # type alias for the result queue


def baseline(paths: list[Path], queue: Queue[tuple[str, float, float, int]]) -> None:
    start = time.perf_counter()
    read = 0
    for bundle in SealedFiles(paths).read_bundles(None, None, False):
        for _ in bundle.records:
            read += 1
    queue.put(("baseline", time.perf_counter() - start, peak_rss_mb(), read))


def export(fmt: str, paths: list[Path], queue: Queue[tuple[str, float, float, int]]) -> None:
    out = Path(tempfile.mkdtemp(prefix=f"bench-export-{fmt}-"))
    key_dir = Path(tempfile.mkdtemp(prefix="bench-export-key-"))
    try:
        signer = load_or_create_signer(key_dir)
        start = time.perf_counter()
        result = run_export(
            SealedFiles(paths),
            NoBlobs(),
            ExportRequest(fmt),
            out,
            generator="chatkeeper bench",
            tool_version="bench",
            operator="bench",
            now=lambda: datetime.now(UTC),
            signer=signer,
            workers=WORKERS,
        )
        elapsed = time.perf_counter() - start
        size = sum(f.size for f in result.files)
        queue.put((fmt, elapsed, peak_rss_mb(), size))
    finally:
        shutil.rmtree(out, ignore_errors=True)
        shutil.rmtree(key_dir, ignore_errors=True)


def measure(target: str, paths: list[Path]) -> tuple[str, float, float, int]:
    queue: Queue[tuple[str, float, float, int]] = multiprocessing.Queue()
    if target == "baseline":
        process = multiprocessing.Process(target=baseline, args=(paths, queue))
    else:
        process = multiprocessing.Process(target=export, args=(target, paths, queue))
    process.start()
    result = queue.get()
    process.join()
    return result


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--messages", type=int, default=1_000_000)
    parser.add_argument("--formats", default="jsonl,html,rsmf")
    parser.add_argument("--workers", type=int, default=default_workers())
    args = parser.parse_args()
    global WORKERS
    WORKERS = args.workers
    count = args.messages
    print(
        f"records: {count:,} in {CONVERSATIONS} conversations over 30 days, bundles of {BUNDLE:,}; "
        f"render workers: {WORKERS} ({os.cpu_count()} CPUs)"
    )
    sealed = Path(tempfile.mkdtemp(prefix="bench-export-bundles-"))
    try:
        paths = seal_bundles(count, sealed)
        _run(count, paths, args.formats.split(","))
    finally:
        shutil.rmtree(sealed, ignore_errors=True)


def _run(count: int, paths: list[Path], formats: list[str]) -> None:
    _, base_time, base_rss, read = measure("baseline", paths)
    assert read == count
    base_rate = count / base_time
    print(
        f"{'baseline':>9}: {base_rate:>9,.0f} records/s  peak RSS {base_rss:6.0f} MB  "
        "(read: hash, decompress, decode)"
    )
    for fmt in formats:
        _, elapsed, rss, size = measure(fmt, paths)
        rate = count / elapsed
        print(
            f"{fmt:>9}: {rate:>9,.0f} messages/s  peak RSS {rss:6.0f} MB  "
            f"{elapsed:6.1f} s  output {size / 1e6:7.1f} MB  ratio to baseline {rate / base_rate:.2f}"
        )


if __name__ == "__main__":
    main()
