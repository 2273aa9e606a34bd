"""Supervision screening throughput and queue read latency.

Seals N realistic records (about 2% carrying off-channel, promissory, complaint,
confidentiality or conduct phrases in several languages) to the local SeaweedFS, then in the
same run times:

- the baseline: a bare verified read of every sealed record (``archive.read.read_bundles``,
  what screening reads instead of the search index);
- screening end to end: ``screen_sealed`` (verified read + all five shipped packs + 2%
  sampling + queue writes);
- matching alone: ``Screener.screen`` over (up to 50,000 of) the records, already in memory;
- the queue page's reads: ``list_items`` (50 rows) and ``get_item`` latency, p50 and p95.

    .venv/bin/python bench/supervision.py [--records 200000]
"""

from __future__ import annotations

import argparse
import random
import sys
import tempfile
import time
from dataclasses import replace
from datetime import UTC, datetime
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent.parent))

from archive.bundle import Layout
from archive.clock import SystemClock
from archive.journal.sqlite import SqliteJournal
from archive.keys import load_or_create_signer
from archive.model import Record
from archive.read import read_bundles
from archive.seal import SealPolicy, seal
from archive.store.local_s3 import LocalS3
from archive.store.s3 import S3ArchiveStore, make_client
from bench.records import peak_rss_mb, percentile, records
from supervision.packs import SHIPPED
from supervision.policy import parse_policy
from supervision.queue import QueueStore
from supervision.review import ItemFilter, get_item, list_items
from supervision.runner import screen_sealed
from supervision.screen import Screener

BUCKET = "bench-supervision"
HIT_PHRASES = (
    "can we move this to WhatsApp",
    "ping me on Signal later",
    "text me at my cell",
    "guaranteed return of 9% a year",
    "it's risk-free, you can't lose",
    "Garantierte Rendite, völlig risikolos",
    "on en parle sur Telegram",
    "mejor por WhatsApp",
    "I want to file a complaint",
    "keep this between us, inside info",
    "this fucking platform",
)


def _records(count: int, start: int = 0) -> list[Record]:
    rng = random.Random(13 + start)
    out = []
    for record in records(count, start=start):
        if rng.random() < 0.02:
            text = f"{record.text} {rng.choice(HIT_PHRASES)}"
            record = replace(record, text=text)
        out.append(record)
    return out


def main() -> None:
    parser = argparse.ArgumentParser()
    parser.add_argument("--records", type=int, default=200_000)
    args = parser.parse_args()
    policy_doc = {
        "name": "bench",
        "version": "1",
        "lexicons": list(SHIPPED),
        "sampling": {"rate": 0.02, "seed": "bench"},
    }
    screener = Screener([parse_policy(policy_doc)])
    rules = len(screener.policies[0].rules)
    with tempfile.TemporaryDirectory() as tmp, LocalS3(Path(tmp) / "s3") as endpoint:
        server = LocalS3(Path(tmp) / "s3")
        server.endpoint = endpoint
        server.ensure_bucket(BUCKET, days=1)
        creds = endpoint.archiver
        store = S3ArchiveStore(
            make_client(endpoint.url, creds.access_key, creds.secret_key), BUCKET
        )
        layout = Layout("bench")
        signer = load_or_create_signer(Path(tmp) / "keys")
        keys = {signer.public.key_id: signer.public}
        with SqliteJournal(Path(tmp) / "journal.db") as journal:
            for start in range(0, args.records, 10_000):  # no list of all records stays alive
                journal.append(_records(min(10_000, args.records - start), start))
            policy = SealPolicy(layout=layout, retention_days=1, min_retention_days=1)
            seal(journal, store, signer, policy, SystemClock())

        started = time.perf_counter()
        read = sum(1 for _, rs in read_bundles(store, layout, keys) for _ in rs)
        baseline = time.perf_counter() - started

        with QueueStore(Path(tmp) / "queue.db") as queue:
            started = time.perf_counter()
            report = screen_sealed(store, layout, keys, queue, screener)
            end_to_end = time.perf_counter() - started

            data = _records(min(args.records, 50_000))
            started = time.perf_counter()
            for record in data:
                screener.screen(record)
            matching = time.perf_counter() - started
            del data

            now = datetime.now(UTC)
            ids = [i["id"] for i in list_items(queue, ItemFilter(limit=10_000), now)]
            pages, details = [], []
            for n in range(200):
                t = time.perf_counter()
                list_items(queue, ItemFilter(limit=50, offset=(n * 50) % max(1, len(ids))), now)
                pages.append(time.perf_counter() - t)
                t = time.perf_counter()
                get_item(queue, ids[n % len(ids)])
                details.append(time.perf_counter() - t)

    n = args.records
    print(
        f"screened {report.records:,} sealed records in {len(report.bundles)} bundles; "
        f"{report.items:,} review items; {rules} rules from {len(SHIPPED)} packs"
    )
    print(
        f"baseline verified read (read_bundles): {baseline:.2f} s, {read / baseline:,.0f} records/s"
    )
    print(
        f"screening end to end (read + screen + queue): {end_to_end:.2f} s, "
        f"{n / end_to_end:,.0f} messages/s ({end_to_end / baseline:.2f}x the baseline)"
    )
    beyond = max(end_to_end - baseline, 1e-9)
    print(
        f"screening beyond the read (end to end - baseline): {beyond:.2f} s, {n / beyond:,.0f} messages/s"
    )
    print(
        f"matching alone (fold + automaton + confirm, 5 packs): {matching:.2f} s, "
        f"{min(n, 50_000) / matching:,.0f} messages/s"
    )
    print(
        f"queue page list_items(50): p50 {percentile(pages, 50) * 1000:.1f} ms, "
        f"p95 {percentile(pages, 95) * 1000:.1f} ms; get_item: p50 "
        f"{percentile(details, 50) * 1000:.1f} ms, p95 {percentile(details, 95) * 1000:.1f} ms"
    )
    print(f"peak RSS {peak_rss_mb():.0f} MB")


if __name__ == "__main__":
    main()
