"""Telegram webhook ingest: sustained updates/s and p99 time-to-journal.

A load generator in a separate process POSTs realistic ``message`` updates
(with the secret header) to the real webhook endpoint over loopback, with
``--connections`` concurrent connections like Telegram's ``max_connections``.
The endpoint answers 200 only after the update is durable, so the request
latency is the time-to-journal. Baseline, in the same run: the same endpoint
and load with one commit per update (commits serialized, no group commit).

    .venv/bin/python bench/telegram_ingest.py [--updates 20000] [--connections 40]
"""

from __future__ import annotations

import argparse
import asyncio
import json
import multiprocessing
import random
import resource
import socket
import sys
import tempfile
import time
from concurrent.futures import Future, ThreadPoolExecutor
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

sys.path.insert(0, str(Path(__file__).resolve().parent.parent))

import aiohttp
from aiohttp import web

from archive.journal import Monitored
from archive.journal.sqlite import SqliteJournal
from archive.logs import configure
from bots.telegram.application import TelegramRuntime
from bots.telegram.sandbox import payloads as p
from bots.telegram.sandbox.fake_api import FakeBotApi
from bots.telegram.settings import TelegramSettings
from bots.telegram.webhook import SECRET_HEADER, webhook_app

GROUP_ID = -1001555000111
NOW = datetime(2026, 11, 2, tzinfo=UTC)
TOKEN = "7005550100:bench-token-not-real"  # noqa: S105 - sandbox only
SECRET = "bench-secret"  # noqa: S105 - sandbox only
WORDS = [
    "bid",
    "offer",
    "fill",
    "size",
    "curve",
    "spread",
    "tenor",
    "desk",
    "book",
    "risk",
    "limit",
    "swap",
    "basis",
    "repo",
    "cash",
]


def make_updates(count: int, first_id: int) -> list[bytes]:
    rng = random.Random(first_id)
    group = p.supergroup(GROUP_ID, "Rates desk")
    out = []
    for n in range(count):
        sender = p.user(1000 + n % 40, f"Trader {n % 40}", f"trader{n % 40}")
        text = " ".join(rng.choice(WORDS) for _ in range(rng.randint(4, 30)))
        message = p.message(group, sender, first_id + n, text, date=p.BASE_DATE + n)
        if n % 7 == 0:
            message["reply_to_message"] = p.message(group, sender, first_id + n - 1, "earlier")
        update = {"update_id": 500_000_000 + first_id + n, "message": message}
        out.append(json.dumps(update, ensure_ascii=False).encode())
    return out


def load(url: str, bodies: list[bytes], connections: int, result: Any) -> None:
    """The load generator (child process): returns (seconds, latencies, failures)."""

    async def run() -> tuple[float, list[float], int]:
        latencies: list[float] = []
        failures = 0
        queue = iter(bodies)
        headers = {SECRET_HEADER: SECRET, "Content-Type": "application/json"}
        connector = aiohttp.TCPConnector(limit=connections)
        async with aiohttp.ClientSession(connector=connector) as session:

            async def worker() -> None:
                nonlocal failures
                for body in queue:
                    started = time.perf_counter()
                    async with session.post(url, data=body, headers=headers) as response:
                        await response.read()
                        if response.status != 200:
                            failures += 1
                    latencies.append(time.perf_counter() - started)

            started = time.perf_counter()
            await asyncio.gather(*(worker() for _ in range(connections)))
            return time.perf_counter() - started, latencies, failures

    result.put(asyncio.run(run()))


class OneCommitPerUpdate:
    """The baseline journal: every submit is its own commit, one after the other."""

    def __init__(self, journal: SqliteJournal) -> None:
        self._journal = journal
        self._pool = ThreadPoolExecutor(max_workers=1)

    def submit(self, records: Any) -> Future[list[int]]:
        return self._pool.submit(self._journal.append, records)

    def __getattr__(self, name: str) -> Any:
        return getattr(self._journal, name)


async def serve_and_load(
    journal: Any, bodies: list[bytes], connections: int, capture_mode: str = "all"
) -> dict[str, float]:
    async with FakeBotApi(TOKEN) as fake:
        sock = socket.socket(socket.AF_INET, socket.SOCK_STREAM)
        sock.bind(("127.0.0.1", 0))
        url = f"http://127.0.0.1:{sock.getsockname()[1]}/telegram/webhook"
        settings = TelegramSettings(
            token=TOKEN,
            mode="webhook",
            webhook_url=url,
            webhook_secret=SECRET,
            base_url=fake.base_url,
            base_file_url=fake.base_file_url,
        )
        if capture_mode == "opt_in":  # the benchmarked group has archiving turned on
            journal.set_monitoring(
                Monitored("telegram", "7005550100", str(GROUP_ID), "Rates desk", True, "1", NOW)
            )
        runtime = TelegramRuntime(settings, journal, capture_mode=capture_mode)
        runner = web.AppRunner(
            webhook_app(runtime.capture, SECRET, "/telegram/webhook"), access_log=None
        )
        await runner.setup()
        await web.SockSite(runner, sock, backlog=1024).start()
        await runtime.start()
        try:
            queue: Any = multiprocessing.get_context("fork").Queue()
            child = multiprocessing.get_context("fork").Process(
                target=load, args=(url, bodies, connections, queue)
            )
            child.start()
            seconds, latencies, failures = await asyncio.to_thread(queue.get)
            child.join()
        finally:
            await runtime.stop()
            await runner.cleanup()
    latencies.sort()
    return {
        "updates": len(bodies),
        "failures": failures,
        "seconds": seconds,
        "rate": len(bodies) / seconds,
        "p50_ms": latencies[len(latencies) // 2] * 1000,
        "p99_ms": latencies[int(len(latencies) * 0.99) - 1] * 1000,
    }


def report(name: str, figures: dict[str, float]) -> None:
    print(
        f"{name:<34} {figures['updates']:>6.0f} updates in {figures['seconds']:6.2f} s  "
        f"{figures['rate']:8.0f} updates/s  p50 {figures['p50_ms']:6.1f} ms  "
        f"p99 {figures['p99_ms']:6.1f} ms  failures {figures['failures']:.0f}"
    )


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--updates", type=int, default=20_000)
    parser.add_argument("--baseline-updates", type=int, default=3_000)
    parser.add_argument("--connections", type=int, default=40)
    parser.add_argument("--capture-mode", choices=["all", "opt_in"], default="all")
    args = parser.parse_args()
    configure("warning", "console")
    with tempfile.TemporaryDirectory() as tmp:
        with SqliteJournal(Path(tmp) / "group.db") as journal:
            group = asyncio.run(
                serve_and_load(
                    journal, make_updates(args.updates, 1), args.connections, args.capture_mode
                )
            )
            stored = journal.stats("main").records
        with SqliteJournal(Path(tmp) / "single.db") as journal:
            single = asyncio.run(
                serve_and_load(
                    OneCommitPerUpdate(journal),
                    make_updates(args.baseline_updates, 10_000_000),
                    args.connections,
                    args.capture_mode,
                )
            )
    print(
        f"webhook ingest, {args.connections} connections, capture.mode={args.capture_mode}, "
        "SQLite journal (WAL, synchronous=FULL)"
    )
    report("group commit (chatkeeper)", group)
    report("baseline: one commit per update", single)
    print(f"records journaled (group commit run): {stored}")
    print(f"throughput ratio vs baseline: {group['rate'] / single['rate']:.1f}x")
    print(
        f"peak RSS: {resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024:.0f} MB (server process)"
    )


if __name__ == "__main__":
    main()
