"""Slack ingest benchmark: signed Events API deliveries over loopback HTTP into the real Bolt app.

The server (fake Slack + SlackBot + SQLite journal) runs in a child process;
this process (a lean keep-alive HTTP/1.1 client, so it leaves the CPU to the
server) sends signed ``message`` events at increasing rates (open loop)
and then as fast as it can (closed loop), and prints events/s, p50/p99 ack
latency and the server's peak RSS. It runs twice: with the journal's group
commit, and with a baseline that commits one record per request, and prints
the ratio.

    python bench/slack_ingest.py [--seconds 3] [--rates 250,500,1000,2000,3000,4000] [--capture-mode opt_in|all]
"""

from __future__ import annotations

import argparse
import asyncio
import json
import logging
import os
import subprocess
import sys
import tempfile
import time
from collections.abc import Sequence
from concurrent.futures import Future, ThreadPoolExecutor
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

import structlog
from aiohttp import web
from slack_sdk.signature import SignatureVerifier

from archive.journal import Monitored
from archive.journal.sqlite import SqliteJournal
from archive.model import Record
from bots.slack.bot import SlackBot
from bots.slack.sandbox import serve_fake_slack
from bots.slack.sandbox.fake_api import FakeSlackState
from bots.slack.settings import SlackSettings

SECRET = "bench-signing-secret-0123456789ab"  # noqa: S105 (a benchmark)
TEAM = "T0BENCH01"
CHANNEL = "C0BENCH01"


class OneCommitPerRequest(SqliteJournal):
    """Baseline: every request gets its own transaction and fsync (no group commit)."""

    def __init__(self, path: Path) -> None:
        super().__init__(path)
        self._single = ThreadPoolExecutor(max_workers=1)

    def submit(self, records: Sequence[Record]) -> Future[list[int]]:
        return self._single.submit(
            lambda: super(OneCommitPerRequest, self).submit(records).result()
        )


async def serve(journal_path: Path, baseline: bool, capture_mode: str) -> None:
    # stdout is the control channel: keep per-record debug logs off it
    structlog.configure(wrapper_class=structlog.make_filtering_bound_logger(logging.WARNING))
    state = FakeSlackState(team=TEAM)
    for n in range(20):
        state.add_user(f"U0BENCH{n:02d}", f"Trader {n}")
    state.add_channel(CHANNEL, "bench")
    fake = await serve_fake_slack(state)
    journal = OneCommitPerRequest(journal_path) if baseline else SqliteJournal(journal_path)
    settings = SlackSettings(
        signing_secret=SECRET, bot_token=state.token, api_base_url=fake.api_base_url
    )
    journal.set_monitoring(
        Monitored("slack", TEAM, CHANNEL, "bench", True, "U0BENCH00", datetime.now(UTC))
    )
    bot = SlackBot(settings, journal, capture_mode=capture_mode)
    runner = web.AppRunner(bot.web_app(), access_log=None)
    await runner.setup()
    await web.TCPSite(runner, "127.0.0.1", 0, backlog=1024).start()
    print(runner.addresses[0][1], flush=True)
    await asyncio.get_running_loop().run_in_executor(None, sys.stdin.readline)
    print(sum(1 for _ in journal.iter_records()), flush=True)
    journal.close()


def event(n: int, run: str) -> dict[str, Any]:
    ts = f"{1764500000 + n // 1000}.{n % 1000:06d}"
    return {
        "token": "unused",
        "team_id": TEAM,
        "api_app_id": "A0BENCH",
        "type": "event_callback",
        "event_id": f"Ev{run}{n:09d}",
        "event_time": 1764500000 + n // 1000,
        "event": {
            "type": "message",
            "channel": CHANNEL,
            "user": f"U0BENCH{n % 20:02d}",
            "text": f"order {n}: buy 100 at market",
            "ts": ts,
            "event_ts": ts,
            "channel_type": "channel",
        },
    }


def pct(values: list[float], q: float) -> float:
    if not values:
        return float("nan")
    ordered = sorted(values)
    return ordered[min(len(ordered) - 1, int(q * len(ordered)))] * 1000


class Connection:
    """One keep-alive HTTP/1.1 connection speaking just enough HTTP (a lean load generator,
    so that the client does not eat the CPU the server is measured on)."""

    def __init__(self, reader: asyncio.StreamReader, writer: asyncio.StreamWriter) -> None:
        self.reader = reader
        self.writer = writer

    async def post(self, head: bytes, body: bytes) -> int:
        self.writer.write(head + body)
        status = int((await self.reader.readline()).split()[1])
        length = 0
        while (line := await self.reader.readline()) not in (b"\r\n", b""):
            name, _, value = line.partition(b":")
            if name.lower() == b"content-length":
                length = int(value)
        await self.reader.readexactly(length)
        return status


class Client:
    def __init__(self, port: int, run: str, limit: int = 256) -> None:
        self.port = port
        self.run = run
        self.n = 0
        self.verifier = SignatureVerifier(SECRET)
        self.idle: list[Connection] = []
        self.slots = asyncio.Semaphore(limit)

    def request(self, body: bytes) -> bytes:
        stamp = str(int(time.time()))
        signature = self.verifier.generate_signature(timestamp=stamp, body=body) or ""
        return (
            f"POST /slack/events HTTP/1.1\r\nHost: 127.0.0.1:{self.port}\r\n"
            f"Content-Type: application/json\r\nContent-Length: {len(body)}\r\n"
            f"X-Slack-Request-Timestamp: {stamp}\r\nX-Slack-Signature: {signature}\r\n\r\n"
        ).encode()

    async def one(self, latencies: list[float], errors: list[int]) -> None:
        self.n += 1
        body = json.dumps(event(self.n, self.run), separators=(",", ":")).encode()
        head = self.request(body)
        async with self.slots:
            started = time.perf_counter()
            connection = self.idle.pop() if self.idle else None
            if connection is None:
                connection = Connection(*await asyncio.open_connection("127.0.0.1", self.port))
            status = await connection.post(head, body)
            elapsed = time.perf_counter() - started
            self.idle.append(connection)
        if status == 200:
            latencies.append(elapsed)
        else:
            errors.append(status)

    async def close(self) -> None:
        for connection in self.idle:
            connection.writer.close()

    async def open_loop(self, rate: int, seconds: float) -> tuple[float, list[float], int]:
        latencies: list[float] = []
        errors: list[int] = []
        tasks = []
        start = time.perf_counter()
        total = int(rate * seconds)
        for i in range(total):
            delay = start + i / rate - time.perf_counter()
            if delay > 0:
                await asyncio.sleep(delay)
            tasks.append(asyncio.create_task(self.one(latencies, errors)))
        await asyncio.gather(*tasks)
        elapsed = time.perf_counter() - start
        return len(latencies) / elapsed, latencies, len(errors)

    async def closed_loop(self, concurrency: int, seconds: float) -> tuple[float, list[float], int]:
        latencies: list[float] = []
        errors: list[int] = []
        deadline = time.perf_counter() + seconds
        start = time.perf_counter()

        async def worker() -> None:
            while time.perf_counter() < deadline:
                await self.one(latencies, errors)

        await asyncio.gather(*(worker() for _ in range(concurrency)))
        return len(latencies) / (time.perf_counter() - start), latencies, len(errors)


def peak_rss_mb(pid: int) -> float:
    for line in Path(f"/proc/{pid}/status").read_text().splitlines():
        if line.startswith("VmHWM:"):
            return int(line.split()[1]) / 1024
    return float("nan")


async def measure(
    label: str, baseline: bool, rates: list[int], seconds: float, capture_mode: str
) -> tuple[float, float, float]:
    """(best sustained open-loop rate, closed-loop rate, p99 ms at the 500/s step)."""
    with tempfile.TemporaryDirectory() as tmp:
        server = subprocess.Popen(
            [
                sys.executable,
                __file__,
                "--serve",
                str(Path(tmp) / "journal.db"),
                "--capture-mode",
                capture_mode,
            ]
            + (["--baseline"] if baseline else []),
            stdin=subprocess.PIPE,
            stdout=subprocess.PIPE,
            text=True,
        )
        assert server.stdout is not None and server.stdin is not None
        port = int(server.stdout.readline())
        client = Client(port, label)
        await client.open_loop(50, 1.0)  # warm up caches and connections
        print(f"[{label}]")
        sustained, p99_at_500 = 0.0, float("nan")
        for rate in rates:
            got, lat, errors = await client.open_loop(rate, seconds)
            sustained = max(sustained, got)
            if rate == 500:
                p99_at_500 = pct(lat, 0.99)
            print(
                f"  offered {rate:5d}/s -> sustained {got:7.0f} events/s  p50 {pct(lat, 0.5):6.1f} ms  p99 {pct(lat, 0.99):7.1f} ms  errors {errors}"
            )
        best, lat, errors = await client.closed_loop(64, seconds)
        print(
            f"  closed loop (64 in flight): {best:7.0f} events/s  p50 {pct(lat, 0.5):6.1f} ms  p99 {pct(lat, 0.99):7.1f} ms  errors {errors}"
        )
        await client.close()
        server.stdin.write("\n")
        server.stdin.flush()
        stored = int(server.stdout.readline())
        print(
            f"  journal holds {stored} records (sent {client.n}); server peak RSS {peak_rss_mb(server.pid):.0f} MiB"
        )
        server.wait(30)
        return sustained, best, p99_at_500


async def main(args: argparse.Namespace) -> None:
    rates = [int(r) for r in args.rates.split(",")]
    print(f"capture.mode = {args.capture_mode}")
    grouped = await measure("group-commit", False, rates, args.seconds, args.capture_mode)
    single = await measure("one-commit-per-request", True, rates, args.seconds, args.capture_mode)
    print(
        f"summary: sustained {max(grouped[:2]):.0f} events/s (baseline {max(single[:2]):.0f}, "
        f"ratio {max(grouped[:2]) / max(single[:2]):.2f}x); p99 ack at 500/s {grouped[2]:.1f} ms "
        f"(baseline {single[2]:.1f} ms)"
    )


if __name__ == "__main__":
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--serve", type=Path, default=None, help=argparse.SUPPRESS)
    parser.add_argument("--baseline", action="store_true", help=argparse.SUPPRESS)
    parser.add_argument("--seconds", type=float, default=3.0)
    parser.add_argument("--rates", default="250,500,1000,2000,3000,4000")
    parser.add_argument("--capture-mode", choices=["opt_in", "all"], default="opt_in")
    parsed = parser.parse_args()
    if parsed.serve is not None and os.environ.get("SLACK_BENCH_PROFILE"):
        import cProfile

        cProfile.run(
            "asyncio.run(serve(parsed.serve, parsed.baseline, parsed.capture_mode))",
            os.environ["SLACK_BENCH_PROFILE"],
        )
    elif parsed.serve is not None:
        asyncio.run(serve(parsed.serve, parsed.baseline, parsed.capture_mode))
    else:
        asyncio.run(main(parsed))
