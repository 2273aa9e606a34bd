"""Search index build rate from sealed bundles, and query latency on a large index.

1. Journal N realistic records in several languages (English, French, German,
   Hebrew, Arabic, Russian, Chinese, Japanese), with edits, deletes and file
   names, and seal them to the local SeaweedFS (not timed).
2. Build the SQLite FTS5 index from the sealed bundles with ``update_index``:
   read, verify (signature, chain, hashes, Merkle root), decode, tokenize,
   insert. Prints messages/s; the read-and-verify path alone is timed too.
3. Query latency p50/p95 (limit 20, newest first) for a mix of word, phrase,
   filter, NEAR and rare-term queries, against a baseline in the same run: the
   same queries as a plain SQL ``LIKE`` scan of the same documents table (which
   stops early on common words, newest first, and reads the whole table for a
   rare one).

    .venv/bin/python bench/search.py [--records 1000000] [--queries 400] [--workers N]
"""

from __future__ import annotations

import argparse
import os
import random
import sqlite3
import sys
import tempfile
import time
from collections.abc import Iterator
from dataclasses import replace
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent.parent))

from archive.bundle import Layout
from archive.clock import SystemClock
from archive.journal.sqlite import SqliteJournal
from archive.keys import load_or_create_signer
from archive.model import Attachment, AttachmentState, Kind, Record
from archive.read import read_bundles
from archive.seal import SealPolicy, seal
from archive.store.local_s3 import LocalS3
from archive.store.s3 import S3ArchiveStore, make_client
from bench.records import WORDS, peak_rss_mb, percentile, realistic_record
from search.indexer import update_index
from search.query import parse
from search.sqlite_index import SqliteSearchIndex

BUCKET = "bench-search"
LANGUAGES = {
    "fr": "réunion café clôture marché échéance prêt taux offre signé demain confirmé".split(),
    "de": "übergabe straße größe prüfung zinsen angebot geschäft morgen bestätigt".split(),
    "he": "התקציב אושר פגישה מחר עסקה לקוח ריבית הצעה חתום שער".split(),
    "ar": "الميزانية الموافقة اجتماع غدا صفقة العميل سعر عرض موقع".split(),
    "ru": "бюджет утверждён созвон завтра сделка клиент ставка предложение".split(),
    "zh": "明天的会议讨论预算客户交易利率报价确认签署".split(),
    "ja": "明日の会議で予算を確認します取引顧客金利".split(),
}


def corpus(count: int, seed: int = 11) -> Iterator[Record]:
    """Records: 70% English desk chat, 30% other languages; 5% edits, 2% deletes, 3% files.

    One message in a thousand carries a rare term (``needle000`` .. ``needle999``).
    """
    rng = random.Random(seed)
    for n in range(count):
        record = realistic_record(n, rng)
        roll = rng.random()
        if roll < 0.30:
            words = LANGUAGES[rng.choice(list(LANGUAGES))]
            joiner = "" if words is LANGUAGES["zh"] or words is LANGUAGES["ja"] else " "
            text = joiner.join(rng.choice(words) for _ in range(rng.randint(6, 25)))
            record = replace(record, text=text)
        kind = rng.random()
        if kind < 0.05:
            record = replace(record, kind=Kind.EDIT, text=(record.text or "") + " (revised)")
        elif kind < 0.07:
            record = replace(record, kind=Kind.DELETE, previous_text=record.text, text=None)
        if rng.random() < 0.001:  # a rare term, as a ticker or a name an officer looks for
            record = replace(record, text=f"{record.text or ''} needle{rng.randrange(1000):03d}")
        if rng.random() < 0.03:
            name = f"{rng.choice(WORDS)}-{rng.choice(WORDS)}-{n % 97}.pdf"
            record = replace(record, attachments=(Attachment(name, AttachmentState.PENDING),))
        yield record


def queries(count: int, seed: int = 5) -> list[tuple[str, str]]:
    """(category, query): words, phrases, filters, NEAR, and rare terms (alone or filtered)."""
    rng = random.Random(seed)
    rare = ["échéance", "הצעה", "报价", "утверждён", "größe", "الموافقة"]
    out: list[tuple[str, str]] = []
    for i in range(count):
        a, b = rng.sample(WORDS, 2)
        category = ("word", "phrase", "filter", "near", "rare")[i % 5]
        if category == "rare":
            needle = f"needle{rng.randrange(1000):03d}"
            out.append(
                (category, rng.choice([needle, f"{needle} kind:message", f"{needle} OR {a}"]))
            )
        elif category == "word":
            out.append((category, rng.choice([a, f"{a} {b}", rng.choice(rare), f"{a[:3]}*"])))
        elif category == "phrase":
            out.append((category, f'"{a} {b}"'))
        elif category == "filter":
            user = rng.randrange(300)
            out.append(
                (
                    category,
                    rng.choice(
                        [
                            f"{a} from:trader{user}@example.com",
                            f"{a} in:C0BENCH{rng.randrange(40):03d} kind:edit",
                            f"{a} after:2026-11-02T12:00 before:2026-11-02T13:00",
                            f"{a} has:file",
                        ]
                    ),
                )
            )
        else:
            out.append((category, f"NEAR({a} {b}, {rng.choice([2, 5, 10])})"))
    return out


def like_baseline(db: sqlite3.Connection, category: str, query: str) -> None:
    """The same query as a LIKE scan over the documents (no full-text index)."""
    if category == "rare" and " OR " in query:
        left, right = query.split(" OR ")
        sql, params = "(body LIKE ? OR body LIKE ?)", [f"%{left}%", f"%{right}%"]
    elif category == "near":
        left, right = query[5:].split(",")[0].split()
        sql, params = "body LIKE ? AND body LIKE ?", [f"%{left}%", f"%{right}%"]
    elif category == "phrase":
        sql, params = "body LIKE ?", [f"%{query.strip(chr(34))}%"]
    else:
        words = [w for w in query.split() if ":" not in w]
        sql = " AND ".join("body LIKE ?" for _ in words)
        params = [f"%{w.rstrip('*')}%" for w in words]
        if "from:" in query:
            sql += " AND actor_email_key = ?"
            params.append(query.split("from:")[1].split()[0])
        if "has:file" in query:
            sql += " AND has_file = 1"
        if "kind:message" in query:
            sql += " AND kind = 'message'"
    db.execute(
        f"SELECT seq FROM search_docs WHERE {sql} ORDER BY seq DESC LIMIT 20",  # noqa: S608
        params,
    ).fetchall()


def main() -> None:
    parser = argparse.ArgumentParser()
    parser.add_argument("--records", type=int, default=1_000_000)
    parser.add_argument("--queries", type=int, default=400)
    parser.add_argument("--baseline-queries", type=int, default=50)
    parser.add_argument("--workers", type=int, default=os.cpu_count() or 2)
    args = parser.parse_args()
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
        started = time.perf_counter()
        with SqliteJournal(Path(tmp) / "journal.db") as journal:
            batch: list[Record] = []
            for record in corpus(args.records):
                batch.append(record)
                if len(batch) == 10_000:
                    journal.append(batch)
                    batch = []
            if batch:
                journal.append(batch)
            policy = SealPolicy(layout=layout, retention_days=1, min_retention_days=1)
            bundles = len(seal(journal, store, signer, policy, SystemClock()).bundles)
        print(
            f"journaled and sealed {args.records:,} records into {bundles} bundles "
            f"({time.perf_counter() - started:.0f} s, not timed)"
        )

        started = time.perf_counter()
        read = sum(1 for _, records in read_bundles(store, layout, keys) for _ in records)
        read_seconds = time.perf_counter() - started
        print(
            f"read path alone (read, verify, decode): {read:,} records in {read_seconds:.1f} s, "
            f"{read / read_seconds:,.0f} records/s"
        )
        for workers in (1, args.workers):
            path = Path(tmp) / f"search-{workers}.db"
            with SqliteSearchIndex(path, "bench") as index:
                started = time.perf_counter()
                report = update_index(index, store, layout, keys, workers=workers)
                build = time.perf_counter() - started
            print(
                f"index build from sealed bundles, {workers} worker(s): {report.records:,} "
                f"messages in {build:.1f} s, {report.records / build:,.0f} messages/s "
                f"(goal >= 50,000), index {path.stat().st_size / 1e6:,.0f} MB, "
                f"peak RSS {peak_rss_mb():.0f} MB"
            )
        with SqliteSearchIndex(path, "bench") as index:
            mix = queries(args.queries)
            for _, query in mix[:20]:  # warm the page cache
                index.search(parse(query), 20)
            timings: dict[str, list[float]] = {}
            hits = 0
            for category, query in mix:
                node = parse(query)
                started = time.perf_counter()
                hits += len(index.search(node, 20))
                elapsed = (time.perf_counter() - started) * 1000
                timings.setdefault(category, []).append(elapsed)
                timings.setdefault("all", []).append(elapsed)
        print(f"queries on {report.records:,} messages (limit 20, {hits:,} hits in all):")
        for category, values in timings.items():
            print(
                f"  {category:<7} n={len(values):<4} p50 {percentile(values, 50):7.2f} ms"
                f"  p95 {percentile(values, 95):7.2f} ms  max {max(values):7.2f} ms"
            )
        db = sqlite3.connect(path)
        baseline: list[float] = []
        for category, query in mix[: args.baseline_queries]:
            started = time.perf_counter()
            like_baseline(db, category, query)
            baseline.append((time.perf_counter() - started) * 1000)
        db.close()
        ours = timings["all"][: args.baseline_queries]
        print(
            f"baseline LIKE scan, first {len(baseline)} queries: p50 {percentile(baseline, 50):.1f} ms"
            f"  p95 {percentile(baseline, 95):.1f} ms; index on the same queries: "
            f"p50 {percentile(ours, 50):.2f} ms  p95 {percentile(ours, 95):.2f} ms "
            f"(p95 goal <= 50 ms)"
        )


if __name__ == "__main__":
    main()
