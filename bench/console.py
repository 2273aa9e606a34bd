"""Console page latency under load from a bounded local client, against a static baseline.

Seals N realistic records into the local SeaweedFS, indexes them, runs the
console in-process on an ephemeral port, signs in, and then requests each page
with a fixed number of concurrent clients (the bound). ``/healthz`` (requested
without a session: no session lookup, no template, no archive read) is the
baseline measured in the same run; the archive pages go through the session
middleware, the verifying reader and the audit capture.

    .venv/bin/python bench/console.py [--records 20000] [--clients 4] [--requests 100]
"""

from __future__ import annotations

import argparse
import asyncio
import re
import secrets
import sys
import tempfile
import time
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent.parent))

import aiohttp
from aiohttp.test_utils import TestServer

from archive.bundle import Layout
from archive.clock import SystemClock
from archive.journal.sqlite import SqliteJournal
from archive.keys import load_or_create_signer
from archive.seal import SealPolicy, seal
from archive.store.local_s3 import LocalS3
from archive.store.s3 import S3ArchiveStore, make_client
from bench.records import fill_journal, percentile
from chatkeeper.search_export import MatchingRecords
from console.accounts import AccountStore
from console.app import build_console_app
from console.archive_view import ArchiveView
from console.audit import AuditTrail
from console.context import Console
from console.settings import ConsoleSettings
from search.indexer import update_index
from search.sqlite_index import SqliteSearchIndex

BUCKET = "bench-console"
PASSWORD = secrets.token_urlsafe(16)


async def _load(
    base: str, path: str, clients: int, requests: int, cookies: aiohttp.CookieJar
) -> list[float]:
    """``requests`` GETs of ``path`` from ``clients`` concurrent clients; latencies in ms."""
    latencies: list[float] = []
    queue = iter(range(requests))

    async def client(http: aiohttp.ClientSession) -> None:
        for n in queue:
            started = time.perf_counter()
            async with http.get(base + path.format(n=n % 40)) as answer:
                await answer.read()
                assert answer.status == 200, (path, answer.status)
            latencies.append((time.perf_counter() - started) * 1000)

    async with aiohttp.ClientSession(cookie_jar=cookies) as http:
        await asyncio.gather(*(client(http) for _ in range(clients)))
    return latencies


async def _sign_in(base: str) -> aiohttp.CookieJar:
    jar = aiohttp.CookieJar(unsafe=True)
    async with aiohttp.ClientSession(cookie_jar=jar) as http:
        async with http.get(f"{base}/login") as page:
            match = re.search(r'name="csrf" value="([^"]+)"', await page.text())
        assert match is not None
        form = {"csrf": match.group(1), "name": "bench", "password": PASSWORD}
        async with http.post(f"{base}/login", data=form) as answer:
            assert answer.status == 200
    return jar


async def _run(console: Console, args: argparse.Namespace) -> None:
    server = TestServer(build_console_app(console), host="127.0.0.1", port=0)
    await server.start_server()
    base = f"http://127.0.0.1:{server.port}"
    try:
        jar = await _sign_in(base)
        pages = {
            "/healthz (baseline)": "/healthz",
            "/login (template, no session)": "/login",
            "/ (manifests listed and checked)": "/",
            "/search?q=revenue (index + audit)": "/search?q=revenue",
            "/search?q=revenue from:trader7@example.com": "/search?q=revenue+from:trader7@example.com",
        }
        conversation = "/c/slack/T0BENCH01/C0BENCH{n:03d}"
        await _load(base, "/healthz", args.clients, 50, jar)  # warm-up, not reported
        print(f"{'page':52} {'n':>5} {'p50 ms':>8} {'p95 ms':>8} {'max ms':>8}")
        anonymous = aiohttp.CookieJar(unsafe=True)
        for label, path in pages.items():
            values = await _load(
                base,
                path,
                args.clients,
                args.requests,
                anonymous if path in ("/login", "/healthz") else jar,
            )
            print(
                f"{label:52} {len(values):5d} {percentile(values, 50):8.1f} "
                f"{percentile(values, 95):8.1f} {max(values):8.1f}"
            )
        rows = {
            "/c/... first view of each of 40 (verified read)": 40,
            "/c/... views again (manifests checked, cached)": args.requests,
        }
        for label, count in rows.items():
            values = await _load(base, conversation, args.clients, count, jar)
            print(
                f"{label:52} {len(values):5d} {percentile(values, 50):8.1f} "
                f"{percentile(values, 95):8.1f} {max(values):8.1f}"
            )
    finally:
        await server.close()


def main() -> None:
    parser = argparse.ArgumentParser()
    parser.add_argument("--records", type=int, default=20_000)
    parser.add_argument("--bundle-records", type=int, default=5_000)
    parser.add_argument("--clients", type=int, default=4)
    parser.add_argument("--requests", type=int, default=100)
    parser.add_argument("--cache", type=int, default=64, help="console.cached_conversations")
    args = parser.parse_args()
    with tempfile.TemporaryDirectory() as tmp, LocalS3(Path(tmp) / "s3") as endpoint:
        server = LocalS3(Path(tmp) / "s3")
        server.endpoint = endpoint
        server.ensure_bucket(BUCKET, days=1)
        archiver = S3ArchiveStore(
            make_client(endpoint.url, endpoint.archiver.access_key, endpoint.archiver.secret_key),
            BUCKET,
        )
        reader = S3ArchiveStore(
            make_client(endpoint.url, endpoint.auditor.access_key, endpoint.auditor.secret_key),
            BUCKET,
        )
        layout = Layout("bench")
        signer = load_or_create_signer(Path(tmp) / "keys")
        keys = {signer.public.key_id: signer.public}
        with SqliteJournal(Path(tmp) / "journal.db") as journal:
            fill_journal(journal, args.records)
            policy = SealPolicy(
                layout=layout,
                retention_days=1,
                min_retention_days=1,
                max_records=args.bundle_records,
            )
            report = seal(journal, archiver, signer, policy, SystemClock())
            index = SqliteSearchIndex(Path(tmp) / "search.db", layout.stream)
            update_index(index, reader, layout, keys)
            accounts = AccountStore(Path(tmp) / "console.db", SystemClock())
            accounts.add_user("bench", "officer", PASSWORD)
            console = Console(
                settings=ConsoleSettings(),
                accounts=accounts,
                view=ArchiveView(
                    reader, layout, keys, "trusted keys", cached_conversations=args.cache
                ),
                audit=AuditTrail(journal, SystemClock()),
                clock=SystemClock(),
                export_signer=load_or_create_signer(Path(tmp) / "export-key"),
                search=index,
                matching=MatchingRecords,
                temp_dir=Path(tmp),
            )
            print(
                f"{args.records} records in {len(report.bundles)} bundles (40 conversations); "
                f"{args.clients} concurrent clients"
            )
            asyncio.run(_run(console, args))
            index.close()
            accounts.close()


if __name__ == "__main__":
    main()
