"""Seal a large journal to the local SeaweedFS; compare with a raw boto3 upload.

1. Fill a SQLite journal with N realistic records (~1 KB raw each).
2. In a fresh subprocess (so peak RSS is sealing's own), seal them all.
3. Baseline in the same run: upload the same compressed records objects with a
   plain boto3 put_object, one after another.

Prints records/s, MB/s of record bodies, peak RSS, and the ratio to the baseline.

    .venv/bin/python bench/seal.py [--records 1000000]
"""

from __future__ import annotations

import argparse
import json
import os
import subprocess
import sys
import tempfile
import time
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent.parent))

from archive.bundle import Layout
from archive.clock import SystemClock
from archive.journal.sqlite import SqliteJournal
from archive.keys import load_or_create_signer
from archive.seal import SealPolicy, seal
from archive.store.local_s3 import LocalS3
from archive.store.s3 import S3ArchiveStore, make_client
from bench.records import fill_journal, peak_rss_mb

BUCKET = "bench-seal"


def seal_phase(args: argparse.Namespace) -> None:
    """Runs in the subprocess: seal and report as JSON."""
    client = make_client(
        args.endpoint, os.environ["BENCH_ACCESS_KEY"], os.environ["BENCH_SECRET_KEY"]
    )
    store = S3ArchiveStore(client, BUCKET)
    policy = SealPolicy(layout=Layout("bench"), retention_days=1, min_retention_days=1)
    with SqliteJournal(Path(args.journal)) as journal:
        signer = load_or_create_signer(Path(args.journal).parent / "keys")
        started = time.perf_counter()
        report = seal(journal, store, signer, policy, SystemClock())
        elapsed = time.perf_counter() - started
    print(
        json.dumps(
            {
                "seconds": elapsed,
                "records": report.records,
                "bundles": len(report.bundles),
                "compressed_bytes": sum(b.records_size or 0 for b in report.bundles),
                "peak_rss_mb": peak_rss_mb(),
            }
        )
    )


def main() -> None:
    parser = argparse.ArgumentParser()
    parser.add_argument("--records", type=int, default=1_000_000)
    parser.add_argument("--phase", default="all")
    parser.add_argument("--journal")
    parser.add_argument("--endpoint")
    args = parser.parse_args()
    if args.phase == "seal":
        seal_phase(args)
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
        creds = endpoint.archiver
        out = subprocess.run(
            [
                sys.executable,
                __file__,
                "--phase",
                "seal",
                "--journal",
                str(journal_path),
                "--endpoint",
                endpoint.url,
            ],
            check=True,
            capture_output=True,
            text=True,
            env={
                **os.environ,
                "BENCH_ACCESS_KEY": creds.access_key,
                "BENCH_SECRET_KEY": creds.secret_key,
            },
        )
        result = json.loads(out.stdout.strip().splitlines()[-1])
        # Baseline: the same compressed bytes, uploaded with a plain put_object.
        client = make_client(endpoint.url, creds.access_key, creds.secret_key)
        store = S3ArchiveStore(client, BUCKET)
        with SqliteJournal(journal_path) as journal:
            bundles = journal.bundles("bench")
        upload_seconds = 0.0
        for row in bundles:
            data = store.get(Layout("bench").records_key(row.number), row.records_version or "")
            started = time.perf_counter()
            client.put_object(Bucket=BUCKET, Key=f"baseline/{row.number}", Body=data)
            upload_seconds += time.perf_counter() - started
    seconds = result["seconds"]
    print(
        f"sealed {result['records']:,} records into {result['bundles']} bundles "
        f"({result['compressed_bytes'] / 1e6:,.0f} MB compressed) in {seconds:.1f} s"
    )
    print(
        f"  {result['records'] / seconds:,.0f} records/s, {body_bytes / 1e6 / seconds:,.0f} MB/s of "
        f"record bodies, peak RSS {result['peak_rss_mb']:.0f} MB"
    )
    print(f"baseline raw boto3 upload of the same compressed bytes: {upload_seconds:.1f} s")
    print(f"  sealing time / baseline = {seconds / upload_seconds:.2f}x")


if __name__ == "__main__":
    main()
