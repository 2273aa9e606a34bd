"""What ``refers_back`` costs sealing: the records object built with and without it.

Fills a SQLite journal with realistic records of which ``--history`` (default
20%) are reactions and edits of earlier messages (``bench/records.py``), then
builds each bundle's records object from the journal rows twice per round, in
the same process, on the same rows: as sealing does (rows of referring kinds
decoded for ``refers_back``), and with every row's kind given as ``message`` (no
row decoded: the loop as it was before ``refers_back``). Prints both times,
their ratio and the records of referring kinds per second.

    .venv/bin/python bench/references.py [--records 200000] [--history 0.2]
"""

from __future__ import annotations

import argparse
import statistics
import sys
import tempfile
import time
from collections.abc import Iterator
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent.parent))

from archive.bundle import RecordsObject, build_records_object
from archive.journal import SealRow
from archive.journal.sqlite import SqliteJournal
from archive.references import REFERRING_KINDS
from bench.records import fill_journal

LEVEL = 3  # SealPolicy's default zstd level
BUNDLE = 36_000  # about one bundle of these records under the default byte limit


def as_messages(rows: Iterator[SealRow]) -> Iterator[SealRow]:
    """The rows with every kind given as ``message``: nothing is decoded for refers_back."""
    for seq, body, occurred_at, conversation, blobs, _ in rows:
        yield seq, body, occurred_at, conversation, blobs, "message"


def main() -> None:
    parser = argparse.ArgumentParser()
    parser.add_argument("--records", type=int, default=200_000)
    parser.add_argument("--history", type=float, default=0.2)
    parser.add_argument("--rounds", type=int, default=3)
    args = parser.parse_args()
    with tempfile.TemporaryDirectory() as tmp, SqliteJournal(Path(tmp) / "j.db") as journal:
        fill_journal(journal, args.records, history=args.history)
        source = journal.row_source()
        ranges = [
            (first, min(first + BUNDLE - 1, args.records))
            for first in range(1, args.records + 1, BUNDLE)
        ]
        referring = sum(
            1
            for first, last in ranges
            for row in source.rows(first, last)
            if row[5] in REFERRING_KINDS
        )
        with_refs: list[float] = []
        without: list[float] = []
        built: list[RecordsObject] = []
        for _ in range(args.rounds):
            for times, wrap in ((with_refs, False), (without, True)):
                started = time.perf_counter()
                for first, last in ranges:
                    rows = source.rows(first, last)
                    built.append(build_records_object(as_messages(rows) if wrap else rows, LEVEL))
                times.append(time.perf_counter() - started)
        spans = sum(len(s or ()) for s in (built[0].refers_back or {}).values())
        a, b = statistics.median(with_refs), statistics.median(without)
        print(f"{args.records:,} records, {referring:,} of referring kinds, {len(ranges)} bundles")
        print(
            f"records objects with refers_back:    {a:7.2f} s  {args.records / a:9,.0f} records/s"
        )
        print(
            f"records objects without refers_back: {b:7.2f} s  {args.records / b:9,.0f} records/s"
        )
        print(f"  with / without = {a / b:.3f}x   (first bundle: {spans} spans)")


if __name__ == "__main__":
    main()
