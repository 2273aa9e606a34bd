"""Verification throughput: MB/s and records/s verified, against a raw download baseline.

Seals N realistic records to the local SeaweedFS, then times ``verify_stream``
(hashes, signatures, chain, Merkle roots, locks) and, in the same run, a plain
boto3 download of the same objects. The same records are sealed a second time,
one zstd frame a bundle (as before ``records.frames``), and both streams are
verified in turn (median of 3 each), so that the cost of checking every frame
shows as a ratio.

    .venv/bin/python bench/verify.py [--records 300000]
"""

from __future__ import annotations

import argparse
import statistics
import sys
import tempfile
import time
from dataclasses import replace
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent.parent))

from archive.bundle import Layout
from archive.clock import SystemClock
from archive.journal.sqlite import SqliteJournal
from archive.keys import load_or_create_signer
from archive.seal import SealPolicy, seal
from archive.store.local_s3 import LocalS3
from archive.store.s3 import S3ArchiveStore, make_client
from archive.verify import verify_stream
from bench.records import fill_journal, peak_rss_mb

BUCKET = "bench-verify"


def main() -> None:
    parser = argparse.ArgumentParser()
    parser.add_argument("--records", type=int, default=300_000)
    args = parser.parse_args()
    with tempfile.TemporaryDirectory() as tmp, LocalS3(Path(tmp) / "s3") as endpoint:
        server = LocalS3(Path(tmp) / "s3")
        server.endpoint = endpoint
        server.ensure_bucket(BUCKET, days=1)
        creds = endpoint.archiver
        client = make_client(endpoint.url, creds.access_key, creds.secret_key)
        store = S3ArchiveStore(client, BUCKET)
        layout = Layout("bench")
        signer = load_or_create_signer(Path(tmp) / "keys")
        one_frame = Layout("bench-one-frame")
        with SqliteJournal(Path(tmp) / "journal.db") as journal:
            fill_journal(journal, args.records)
            policy = SealPolicy(layout=layout, retention_days=1, min_retention_days=1)
            seal(journal, store, signer, policy, SystemClock())
            (body_bytes,) = journal._query("SELECT sum(size) FROM records")[0]
        with SqliteJournal(Path(tmp) / "one-frame.db") as journal:
            fill_journal(journal, args.records)
            policy = replace(policy, layout=one_frame, frame_bytes=1 << 62)
            seal(journal, store, signer, policy, SystemClock())
        keys = {signer.public.key_id: signer.public}
        framed_times, one_frame_times = [], []
        for _ in range(3):
            started = time.perf_counter()
            report = verify_stream(store, layout, keys)
            framed_times.append(time.perf_counter() - started)
            assert report.ok, report.findings
            started = time.perf_counter()
            assert verify_stream(store, one_frame, keys).ok
            one_frame_times.append(time.perf_counter() - started)
        seconds = statistics.median(framed_times)
        started = time.perf_counter()
        downloaded = 0
        for version in store.versions(layout.bundles_prefix):
            downloaded += len(store.get(version.key, version.version_id))
        baseline = time.perf_counter() - started
    print(f"verified {report.bundles} bundles, {report.records:,} records in {seconds:.2f} s")
    print(
        f"  {report.bytes / 1e6 / seconds:,.0f} MB/s of stored (compressed) bytes, "
        f"{body_bytes / 1e6 / seconds:,.0f} MB/s of record bodies, "
        f"{report.records / seconds:,.0f} records/s, peak RSS {peak_rss_mb():.0f} MB"
    )
    print(
        f"baseline plain download of the same {downloaded / 1e6:,.0f} MB: {baseline:.2f} s "
        f"({downloaded / 1e6 / baseline:,.0f} MB/s); verify / baseline = {seconds / baseline:.1f}x"
    )
    single = statistics.median(one_frame_times)
    print(
        f"the same records sealed one frame a bundle: verify {single:.2f} s; "
        f"framed / one frame = {seconds / single:.2f}x"
    )


if __name__ == "__main__":
    main()
