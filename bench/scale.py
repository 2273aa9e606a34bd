"""Periodic costs at scale: a large archive against a small one, in the same run.

Builds two archives of realistic records (``bench/records.py``) on the local
SeaweedFS: a small one (``--small``, default 10,000 records) and a large one
(``--large``, default 2,000,000), each sealed with the default policy. Then
times, on each, the periodic jobs that must cost what the new work costs:

- ``status``: the journal counters (``stats``);
- ``seal``: sealing ``--new`` (10,000) new records (their WAL checkpointed first, timed
  apart: that is the capture's cost);
- ``verify --incremental``: the new bundle and its link to the verified state;
- filtered jsonl and rsmf exports: one conversation, one hour in the middle of
  the archive, each beside an export of only the bundles that hold the hour
  (rsmf also reads the frames of later bundles whose ``refers_back`` reaches into the hour:
  ``--history`` of the records, default 20%, are reactions and edits of earlier
  messages, ``--late`` of them, default one in fifty, about a message up to six
  hours old);
- reconciliation: the journal side of ``completeness slack`` for one channel over
  the window of the newest 5,000 records (the Slack API side is the same on both);
- ``completeness telegram``: a journal without Telegram records.

Prints each time and the ratio large/small (goal: within 2x).

    .venv/bin/python bench/scale.py [--large 2000000] [--small 10000] [--history 0.2] [--late 0.02]
"""

from __future__ import annotations

import argparse
import contextlib
import sqlite3
import statistics
import sys
import tempfile
import time
from collections.abc import Callable
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any

sys.path.insert(0, str(Path(__file__).resolve().parent.parent))

from archive.bundle import Layout
from archive.clock import SystemClock
from archive.journal.sqlite import SqliteJournal
from archive.keys import Signer, load_or_create_signer
from archive.seal import SealPolicy, seal
from archive.store.local_s3 import LocalS3
from archive.store.s3 import S3ArchiveStore, make_client
from archive.verify import verify_stream
from archive.verify_incremental import state_after, verify_since
from bench.records import START, fill_journal, records
from bots.slack.completeness import _deleted_ts, _journaled_messages
from bots.telegram.completeness import journal_gaps
from exporters.archive_source import ArchiveBundleSource
from exporters.filters import Filters
from exporters.pipeline import ExportRequest, run_export
from exporters.source import NoBlobs

CHANNEL = "C0BENCH007"
TEAM = "T0BENCH01"


def timed(job: Callable[[], Any], repeat: int = 3) -> float:
    """The median of ``repeat`` runs, in seconds."""
    times = []
    for _ in range(repeat):
        started = time.perf_counter()
        job()
        times.append(time.perf_counter() - started)
    return statistics.median(times)


class Archive:
    def __init__(
        self,
        root: Path,
        endpoint: Any,
        server: LocalS3,
        name: str,
        count: int,
        history: tuple[float, float],
    ) -> None:
        self.root = root
        self.count = count
        self.history = history
        self.read: dict[str, int] = {}  # records read by the last export of each kind
        self.settled = 0.0  # the WAL checkpoint before the incremental seal (capture's cost)
        bucket = f"bench-scale-{name}"
        server.ensure_bucket(bucket, days=1)
        creds = endpoint.archiver
        self.store = S3ArchiveStore(
            make_client(endpoint.url, creds.access_key, creds.secret_key), bucket
        )
        self.layout = Layout("bench")
        self.policy = SealPolicy(
            layout=self.layout, retention_days=1, min_retention_days=1, build_workers=2
        )
        self.signer: Signer = load_or_create_signer(root / "keys")
        self.keys = {self.signer.public.key_id: self.signer.public}
        self.journal = SqliteJournal(root / "journal.db")
        started = time.perf_counter()
        fill_journal(self.journal, count, history=history[0], late=history[1])
        seal(self.journal, self.store, self.signer, self.policy, SystemClock())
        report = verify_stream(self.store, self.layout, self.keys, check_records=False)
        self.state = state_after(report, None, SystemClock().now())
        print(
            f"{name}: {count:,} records in {len(self.journal.bundles('bench'))} bundles ({time.perf_counter() - started:.0f} s)",
            flush=True,
        )

    def incremental_seal(self, new: int) -> float:
        """Seal ``new`` appended records. The appends' WAL is first copied into the database
        (the capture's own deferred cost: its random key-index pages grow with the journal),
        timed apart in ``settled``, so that the figure is the seal's alone."""
        share, late = self.history
        self.journal.append(list(records(new, start=self.count, history=share, late=late)))
        started = time.perf_counter()
        with contextlib.closing(sqlite3.connect(self.root / "journal.db")) as conn:
            conn.execute("PRAGMA wal_checkpoint(TRUNCATE)")
        self.settled = time.perf_counter() - started
        started = time.perf_counter()
        seal(self.journal, self.store, self.signer, self.policy, SystemClock())
        return time.perf_counter() - started

    def incremental_verify(self) -> float:
        assert self.state is not None
        state = self.state
        report = verify_since(self.store, self.layout, state)
        assert report.ok and report.bundles >= 1, report.findings
        return timed(lambda: verify_since(self.store, self.layout, state))

    def export(
        self,
        out: Path,
        window: tuple[datetime, datetime],
        bundles: tuple[int, int] | None,
        fmt: str = "jsonl",
    ) -> float:
        filters = Filters(conversations=(CHANNEL,), start=window[0], end=window[1])
        if bundles is not None:
            filters = Filters(
                conversations=(CHANNEL,),
                start=window[0],
                end=window[1],
                first_bundle=bundles[0],
                last_bundle=bundles[1],
            )
        runs = iter(range(100))

        def job() -> None:
            result = run_export(
                ArchiveBundleSource(self.store, self.layout, self.keys),
                NoBlobs(),
                ExportRequest(fmt, filters),
                out / f"run-{next(runs)}",
                generator="bench",
                tool_version="bench",
                operator="bench",
                now=lambda: datetime.now(UTC),
                signer=self.signer,
            )
            self.read[f"{fmt} {'matching' if bundles else 'filtered'}"] = result.records_read

        return timed(job)


def window_of(count: int) -> tuple[datetime, datetime]:
    """One hour in the middle of ``count`` records (records are 37 ms apart)."""
    middle = START + timedelta(milliseconds=37 * count // 2)
    return middle, middle + timedelta(hours=1)


def bundles_for(archive: Archive, window: tuple[datetime, datetime]) -> tuple[int, int]:
    """The bundles whose records fall in ``window`` (from the journal: the reference export)."""
    first_seq = 1 + int((window[0] - START) / timedelta(milliseconds=37))
    last_seq = int((window[1] - START) / timedelta(milliseconds=37))
    hit = [
        b.number
        for b in archive.journal.bundles("bench")
        if b.seq_last >= first_seq and b.seq_first <= last_seq
    ]
    return hit[0], hit[-1]


def reconcile_journal_side(archive: Archive) -> None:
    """What ``reconcile_channel`` reads from the journal: the window's messages, the deletes."""
    since = START + timedelta(milliseconds=37 * (archive.count - 5_000))  # the newest 5,000
    _journaled_messages(archive.journal, TEAM, CHANNEL, since)
    _deleted_ts(archive.journal, CHANNEL)


def main() -> None:
    parser = argparse.ArgumentParser()
    parser.add_argument("--large", type=int, default=2_000_000)
    parser.add_argument("--small", type=int, default=10_000)
    parser.add_argument("--new", type=int, default=10_000)
    parser.add_argument("--history", type=float, default=0.2)
    parser.add_argument("--late", type=float, default=0.02)
    args = parser.parse_args()
    with tempfile.TemporaryDirectory() as tmp, LocalS3(Path(tmp) / "s3") as endpoint:
        server = LocalS3(Path(tmp) / "s3")
        server.endpoint = endpoint
        history = (args.history, args.late)
        small = Archive(Path(tmp) / "small", endpoint, server, "small", args.small, history)
        large = Archive(Path(tmp) / "large", endpoint, server, "large", args.large, history)
        rows: list[tuple[str, float, float]] = []
        for name, job in (
            ("status (journal counters)", lambda a: timed(lambda: a.journal.stats("bench"), 5)),
            (
                "reconciliation, one channel (journal side)",
                lambda a: timed(lambda: reconcile_journal_side(a)),
            ),
            (
                "completeness telegram (no Telegram records)",
                lambda a: timed(lambda: journal_gaps(a.journal)),
            ),
            (
                "filtered jsonl export, 1 channel, 1 hour",
                lambda a: a.export(a.root / "export", window_of(a.count), None),
            ),
            (
                "  the same, matching bundles only",
                lambda a: a.export(
                    a.root / "export-ref", window_of(a.count), bundles_for(a, window_of(a.count))
                ),
            ),
            (
                "filtered rsmf export, 1 channel, 1 hour",
                lambda a: a.export(a.root / "rsmf", window_of(a.count), None, "rsmf"),
            ),
            (
                "  the same, matching bundles only",
                lambda a: a.export(
                    a.root / "rsmf-ref",
                    window_of(a.count),
                    bundles_for(a, window_of(a.count)),
                    "rsmf",
                ),
            ),
            (f"incremental seal of {args.new:,} records", lambda a: a.incremental_seal(args.new)),
            ("verify --incremental (the new bundle)", lambda a: a.incremental_verify()),
        ):
            rows.append((name, job(small), job(large)))
            print(
                f"{name:<48} small {rows[-1][1]:8.3f} s   large {rows[-1][2]:8.3f} s   ratio {rows[-1][2] / rows[-1][1]:6.2f}x",
                flush=True,
            )
        for index, (name, _, large_time) in enumerate(rows):
            if name.startswith("filtered"):
                fmt = name.split()[1]
                print(
                    f"filtered {fmt} export / matching bundles only (large):"
                    f" {large_time / rows[index + 1][2]:.2f}x; records read"
                    f" {large.read[f'{fmt} filtered']:,} / {large.read[f'{fmt} matching']:,}"
                )
        print(
            f"WAL checkpoint of the {args.new:,} appended records, before the seal (capture's"
            f" deferred cost): small {small.settled:.3f} s, large {large.settled:.3f} s"
        )
        small.journal.close()
        large.journal.close()


if __name__ == "__main__":
    main()
