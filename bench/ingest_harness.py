"""What the ingest benchmarks share: ``serve`` in a child process, the load, the figures.

Each subject (``chatkeeper serve``, the bare bot app, the raw journal capture)
runs in a child process of its own, started from the benchmark's script with
``--child SUBJECT``, so that its peak RSS and CPU time are its own and the load
generator (this process, an aiohttp client with many concurrent connections)
is apart from it. A child that serves HTTP prints its port on stdout, serves
until a line arrives on stdin, then prints one JSON line: the records its
journal holds, its peak RSS and the CPU time it spent while loaded. The raw
journal child captures the records itself and prints its figures the same way.
Subjects run in ABC CBA order (``--rounds``), their runs pooled, so that a
change in the machine's load falls on all of them alike.

A 200 is counted only when it came back: the bots answer 200 after the
journal's commit (group commit, synchronous=FULL), so the latency measured
is the time to a durable record, and the journal must hold every acked event.
With ``BENCH_INGEST_PROFILE=DIR`` each child runs under cProfile (CPU time)
and writes ``DIR/<subject>-*.prof``.
"""

from __future__ import annotations

import argparse
import asyncio
import contextlib
import dataclasses
import json
import os
import resource
import sqlite3
import subprocess
import sys
import tempfile
import time
from collections.abc import Awaitable, Callable, Coroutine, Iterator, Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import aiohttp
from aiohttp import web

from archive.capture import capture
from archive.journal import Journal
from archive.logs import configure
from archive.model import Record
from archive.store.local_s3 import LocalS3, LocalS3Endpoint
from bench.records import peak_rss_mb, percentile
from chatkeeper import build
from chatkeeper.serve import serve
from chatkeeper.settings import Settings

Request = tuple[dict[str, str], bytes]  # headers, body
SETTINGS = "BENCH_INGEST_SETTINGS"  # the children's chatkeeper settings (JSON), from the driver
CONNECTIONS = "BENCH_INGEST_CONNECTIONS"
PROFILE = "BENCH_INGEST_PROFILE"
BUCKET = "bench-ingest"


@dataclass
class Figures:
    name: str
    events: int
    seconds: float
    latencies: list[float]
    failures: int
    records: int = 0
    peak_rss_mb: float = 0.0
    acked: int = 0
    cpu_seconds: float = 0.0  # the subject's process, user + system, while it was loaded
    probed: int = 0  # acks after which the journal was read for the record
    not_yet_journaled: int = 0  # of those, acks that came before the record was in the journal

    @property
    def rate(self) -> float:
        return self.events / self.seconds

    def p(self, q: float) -> float:
        return percentile(self.latencies, q) * 1000 if self.latencies else float("nan")

    @property
    def cpu_ms(self) -> float:
        """CPU per acked event (warm-up included): a figure the machine's load moves less."""
        return self.cpu_seconds * 1000 / max(self.acked, 1)

    def line(self, unit: str) -> str:
        return (
            f"{self.name:<32} {self.rate:7,.0f} {unit}/s  p50 {self.p(50):6.1f} ms  "
            f"p99 {self.p(99):6.1f} ms  CPU {self.cpu_ms:5.2f} ms/{unit[:-1]}  "
            f"peak RSS {self.peak_rss_mb:3.0f} MB  failures {self.failures}  "
            f"journal {self.records:,}"
        )

    def to_json(self) -> dict[str, Any]:
        return dataclasses.asdict(self)


def s3_env(endpoint: LocalS3Endpoint, bucket: str) -> dict[str, str]:
    """The settings (environment) of ``serve`` on the embedded S3 of this run."""
    return {
        "CHATKEEPER_S3_ENDPOINT": endpoint.url,
        "CHATKEEPER_S3_BUCKET": bucket,
        "CHATKEEPER_S3_ACCESS_KEY": endpoint.archiver.access_key,
        "CHATKEEPER_S3_SECRET_KEY": endpoint.archiver.secret_key,
        "CHATKEEPER_ARCHIVE_RETENTION_DAYS": "1",
        "CHATKEEPER_ARCHIVE_MIN_RETENTION_DAYS": "1",
        "CHATKEEPER_LOG_LEVEL": "warning",
    }


def driver_env(settings: dict[str, str], connections: int) -> dict[str, str]:
    """The environment of the children: this one, and the settings they load."""
    server = {"CHATKEEPER_SERVER_HOST": "127.0.0.1", "CHATKEEPER_SERVER_PORT": "0"}
    return {
        **os.environ,
        SETTINGS: json.dumps({**server, **settings}),
        CONNECTIONS: str(connections),
    }


def child_env() -> dict[str, str]:
    """In a child: the settings environment the driver gave it (not this shell's)."""
    env: dict[str, str] = json.loads(os.environ[SETTINGS])
    return env


class Probe:
    """At the ack of some requests, is the record already in the journal? (read-only look-up)"""

    def __init__(self, journal: Path, keys: dict[int, str]) -> None:
        self.keys = keys  # request index -> the key of its (first) record
        self.journal = journal
        self.missing = 0
        self._db: sqlite3.Connection | None = None

    def check(self, index: int) -> None:
        key = self.keys.get(index)
        if key is None:
            return
        if self._db is None:
            self._db = sqlite3.connect(f"file:{self.journal}?mode=ro", uri=True)
        found = self._db.execute("SELECT 1 FROM records WHERE key = ?", (key,)).fetchone()
        self.missing += found is None

    def close(self) -> None:
        if self._db is not None:
            self._db.close()


async def post_all(
    url: str, requests: Sequence[Request], connections: int, probe: Probe | None = None
) -> Figures:
    """POST every request with ``connections`` concurrent keep-alive clients (closed loop)."""
    latencies: list[float] = []
    failures = 0
    pending = iter(enumerate(requests))
    connector = aiohttp.TCPConnector(limit=connections)
    async with aiohttp.ClientSession(connector=connector) as session:

        async def client() -> None:
            nonlocal failures
            for index, (headers, body) in pending:
                started = time.perf_counter()
                async with session.post(url, data=body, headers=headers) as response:
                    await response.read()
                    ok = response.status == 200
                if ok:
                    latencies.append(time.perf_counter() - started)
                    if probe is not None:
                        probe.check(index)
                else:
                    failures += 1

        started = time.perf_counter()
        await asyncio.gather(*(client() for _ in range(connections)))
        seconds = time.perf_counter() - started
    return Figures("", len(requests), seconds, latencies, failures)


async def capture_all(journal: Journal, records: Sequence[Any], connections: int) -> Figures:
    """The raw journal baseline: ``capture()`` of one record per call, ``connections`` at once."""
    latencies: list[float] = []
    pending = iter(records)

    async def writer() -> None:
        for record in pending:
            started = time.perf_counter()
            await capture(journal, [record])
            latencies.append(time.perf_counter() - started)

    started = time.perf_counter()
    await asyncio.gather(*(writer() for _ in range(connections)))
    return Figures("", len(records), time.perf_counter() - started, latencies, 0)


class Child:
    """One subject in a child process of ``script``: ``--child SUBJECT --home DIR``."""

    def __init__(self, script: str, subject: str, home: Path, env: dict[str, str]) -> None:
        self.process = subprocess.Popen(
            [sys.executable, script, "--child", subject, "--home", str(home)],
            stdin=subprocess.PIPE,
            stdout=subprocess.PIPE,
            text=True,
            env=env,
        )

    def line(self) -> str:
        assert self.process.stdout is not None
        line = self.process.stdout.readline()
        if not line:
            self.process.wait(30)
            raise RuntimeError(f"the benchmark child exited with {self.process.returncode}")
        return line

    def listening(self) -> tuple[int, Path]:
        """The port the child listens on, and its journal."""
        ready = json.loads(self.line())
        return int(ready["port"]), Path(ready["journal"])

    def finish(self) -> dict[str, Any]:
        """Ask the child to stop; what it reports (JSON)."""
        assert self.process.stdin is not None
        self.process.stdin.write("\n")
        self.process.stdin.flush()
        report: dict[str, Any] = json.loads(self.line())
        self.process.wait(60)
        return report


# -- in a child ----------------------------------------------------------------------------


def run_child(main: Callable[[Path], Coroutine[Any, Any, None]], home: Path) -> None:
    """A child's main; with BENCH_INGEST_PROFILE=DIR, under cProfile into DIR/<subject>.prof."""
    configure("warning", "console")  # stdout is the control channel; logs go to stderr
    profile_dir = os.environ.get(PROFILE)
    if not profile_dir:
        asyncio.run(main(home))
        return
    import cProfile

    with cProfile.Profile(time.process_time) as profile:  # CPU time: load elsewhere stays out
        asyncio.run(main(home))
    profile.dump_stats(str(Path(profile_dir) / f"{home.name}.prof"))


async def serve_until_told(
    task: asyncio.Future[Any], port: Callable[[], int | None], journal: Path
) -> None:
    """Print the port (and the journal) once ``task`` (a server) listens, then wait for a
    line on stdin."""
    while port() is None:
        if task.done():
            task.result()  # a start-up failure surfaces here
            raise RuntimeError("the server stopped before it listened")
        await asyncio.sleep(0.02)
    print(json.dumps({"port": port(), "journal": str(journal)}), flush=True)
    started = cpu_seconds()
    told = asyncio.ensure_future(asyncio.to_thread(sys.stdin.readline))
    await asyncio.wait([task, told], return_when=asyncio.FIRST_COMPLETED)
    _LOADED.append(cpu_seconds() - started)
    if task.done():
        task.result()


_LOADED: list[float] = []  # in a child: its CPU seconds between listening and told to stop


def cpu_seconds() -> float:
    usage = resource.getrusage(resource.RUSAGE_SELF)
    return usage.ru_utime + usage.ru_stime


async def serve_child(settings: Settings) -> None:
    """``chatkeeper serve`` with ``settings`` until the driver says stop."""
    stop = asyncio.Event()
    ports: list[int] = []
    task = asyncio.ensure_future(serve(settings, stop=stop, on_ready=ports.append))
    await serve_until_told(task, lambda: ports[0] if ports else None, settings.journal_path)
    stop.set()
    await task


async def app_child(app: web.Application, journal: Path) -> None:
    """A bare aiohttp app (a bot's own, without serve) until the driver says stop."""
    runner = web.AppRunner(app, access_log=None)
    await runner.setup()
    await web.TCPSite(runner, "127.0.0.1", 0, backlog=1024).start()
    port = int(runner.addresses[0][1])
    never: asyncio.Future[None] = asyncio.get_running_loop().create_future()
    await serve_until_told(never, lambda: port, journal)
    never.cancel()
    await runner.cleanup()


async def journal_child(
    settings: Settings, home: Path, translate: Callable[[Sequence[bytes]], list[Record]]
) -> None:
    """The raw journal capture of the same payloads, translated before the clock starts."""
    warm = translate((home / "warm.jsonl").read_bytes().splitlines())
    load = translate((home / "load.jsonl").read_bytes().splitlines())
    connections = int(os.environ[CONNECTIONS])
    with build.open_journal(settings) as journal:
        started = cpu_seconds()
        await capture_all(journal, warm, connections)
        figures = await capture_all(journal, load, connections)
        _LOADED.append(cpu_seconds() - started)
    child_report(settings, figures)


def child_report(settings: Settings, figures: Figures | None = None) -> None:
    """The child's last line: records journaled, peak RSS (and its figures if it measured)."""
    with build.open_journal(settings) as journal:
        records = journal.stats(settings.archive.stream).records
    report: dict[str, Any] = figures.to_json() if figures else {}
    report.update(records=records, peak_rss_mb=peak_rss_mb(), cpu_seconds=sum(_LOADED))
    print(json.dumps(report), flush=True)


# -- the driver ----------------------------------------------------------------------------


@contextlib.contextmanager
def embedded_s3(root: Path, bucket: str) -> Iterator[LocalS3Endpoint]:
    """The embedded S3 (SeaweedFS) for this run, with an Object Lock bucket."""
    with LocalS3(root) as endpoint:
        server = LocalS3(root)
        server.endpoint = endpoint
        server.ensure_bucket(bucket, days=1)
        yield endpoint


async def measure(
    script: str,
    subject: tuple[str, str],
    path: str,
    sign: Callable[[Sequence[bytes]], list[Request]],
    tmp: Path,
    env: dict[str, str],
    payloads: tuple[list[bytes], list[bytes]],
    connections: int,
    keys: dict[int, str],
) -> Figures:
    """One subject (``serve``, ``bot`` or ``journal``, and its label): warm up, then measure;
    ``keys`` are the records to look for in the journal at the ack of those requests."""
    kind, name = subject
    warm, load = payloads
    home = Path(tempfile.mkdtemp(prefix=f"{kind}-", dir=tmp))
    (home / "warm.jsonl").write_bytes(b"\n".join(warm))
    (home / "load.jsonl").write_bytes(b"\n".join(load))
    # A stream of its own in the shared bucket: each run has a new journal, and sealing
    # refuses (rightly) to start a second chain in a stream that has bundles.
    settings = {**json.loads(env[SETTINGS]), "CHATKEEPER_ARCHIVE_STREAM": home.name}
    child = Child(script, kind, home, {**env, SETTINGS: json.dumps(settings)})
    if kind == "journal":
        report = child.finish()
        figures = Figures(**report)
        acked = len(warm) + len(load)
    else:
        port, journal = child.listening()
        url = f"http://127.0.0.1:{port}{path}"
        warmed = await post_all(url, sign(warm), connections)
        probe = Probe(journal, keys)
        figures = await post_all(url, sign(load), connections, probe)
        probe.close()
        report = child.finish()
        acked = len(warmed.latencies) + len(figures.latencies)
        figures.probed, figures.not_yet_journaled = len(keys), probe.missing
    figures.name = name
    figures.records = int(report["records"])
    figures.peak_rss_mb = float(report["peak_rss_mb"])
    figures.cpu_seconds = float(report["cpu_seconds"])
    figures.acked = acked
    return figures


async def measure_rounds(
    rounds: int,
    subjects: Sequence[tuple[str, str]],
    run: Callable[[tuple[str, str]], Awaitable[Figures]],
) -> list[Figures]:
    """Each subject ``rounds`` times, in ABC CBA order so that a load change from other work
    on the machine falls on all subjects alike; the rounds of a subject pooled."""
    runs: dict[str, list[Figures]] = {kind: [] for kind, _ in subjects}
    for n in range(rounds):
        for subject in subjects if n % 2 == 0 else list(reversed(subjects)):
            runs[subject[0]].append(await run(subject))
    return [pooled(runs[kind]) for kind, _ in subjects]


def pooled(runs: Sequence[Figures]) -> Figures:
    first = runs[0]
    return Figures(
        first.name,
        sum(f.events for f in runs),
        sum(f.seconds for f in runs),
        [latency for f in runs for latency in f.latencies],
        sum(f.failures for f in runs),
        sum(f.records for f in runs),
        max(f.peak_rss_mb for f in runs),
        sum(f.acked for f in runs),
        sum(f.cpu_seconds for f in runs),
        sum(f.probed for f in runs),
        sum(f.not_yet_journaled for f in runs),
    )


def print_results(results: Sequence[Figures], unit: str) -> None:
    """The figures, the ratios of the first (serve) to the others, the durability check."""
    for figures in results:
        print(figures.line(unit))
    subject, *baselines = results
    for base in baselines:
        print(
            f"{subject.name} / {base.name}: throughput {subject.rate / base.rate:.2f}x, "
            f"p50 {subject.p(50) / base.p(50):.2f}x, p99 {subject.p(99) / base.p(99):.2f}x, "
            f"CPU per {unit[:-1]} {subject.cpu_ms / base.cpu_ms:.2f}x"
        )
    lost = [f for f in results if f.records < f.acked]
    for f in lost:
        print(f"WARNING: {f.name}: the journal holds {f.records:,} records, {f.acked:,} were acked")
    early = [f for f in results if f.not_yet_journaled]
    for f in early:
        print(f"WARNING: {f.name}: {f.not_yet_journaled} of {f.probed} acks came before the commit")
    if not lost and not early:
        probed = sum(f.probed for f in results)
        print(
            f"every acked {unit[:-1]} is in its journal; at {probed:,} acks the journal was read "
            "and already held the record"
        )


Child_main = Callable[[Path], Coroutine[Any, Any, None]]


@dataclass(frozen=True)
class Bench:
    """One platform's ingest benchmark: its children, payloads and labels."""

    script: str
    doc: str
    serve: Child_main  # chatkeeper serve with the bot on the platform's fake
    bot: Child_main  # the bare bot app
    journal_settings: Callable[[Path], Settings]  # for the raw journal capture
    translate: Callable[[Sequence[bytes]], list[Record]]  # bodies to the bot's records
    payloads: Callable[[int], list[bytes]]  # that many request bodies, the same every run
    sign: Callable[[Sequence[bytes]], list[Request]]
    path: str
    labels: tuple[str, str]  # the serve subject's and the bare app's
    unit: str  # "events", "updates"
    count: int  # the default of --events / --updates
    connections: int
    capture_mode: str

    async def journal(self, home: Path) -> None:
        await journal_child(self.journal_settings(home), home, self.translate)

    def run(self) -> None:
        """``--child`` in a child; otherwise the benchmark."""
        children = {"serve": self.serve, "bot": self.bot, "journal": self.journal}
        parser = argparse.ArgumentParser(description=self.doc.splitlines()[0])
        parser.add_argument("--child", choices=sorted(children), help=argparse.SUPPRESS)
        parser.add_argument("--home", type=Path, help=argparse.SUPPRESS)
        parser.add_argument(f"--{self.unit}", dest="count", type=int, default=self.count)
        parser.add_argument("--warmup", type=int, default=400)
        parser.add_argument("--rounds", type=int, default=2, help="runs of each subject (ABC CBA)")
        parser.add_argument("--connections", type=int, default=self.connections)
        modes = [self.capture_mode, "all" if self.capture_mode == "opt_in" else "opt_in"]
        parser.add_argument("--capture-mode", choices=modes, default=self.capture_mode)
        args = parser.parse_args()
        if args.child:
            run_child(children[args.child], args.home)
        else:
            asyncio.run(self.main(args))

    async def main(self, args: argparse.Namespace) -> None:
        bodies = self.payloads(args.warmup + args.count)
        warm, load = bodies[: args.warmup], bodies[args.warmup :]
        keys = {n: self.translate([load[n]])[0].key for n in range(0, len(load), 50)}
        subjects = [
            ("serve", self.labels[0]),
            ("bot", self.labels[1]),
            ("journal", "baseline: raw journal capture"),
        ]
        with tempfile.TemporaryDirectory() as tmp, embedded_s3(Path(tmp) / "s3", BUCKET) as s3:
            env = driver_env(
                {**s3_env(s3, BUCKET), "CHATKEEPER_CAPTURE_MODE": args.capture_mode},
                args.connections,
            )
            results = await measure_rounds(
                args.rounds,
                subjects,
                lambda subject: measure(
                    self.script,
                    subject,
                    self.path,
                    self.sign,
                    Path(tmp),
                    env,
                    (warm, load),
                    args.connections,
                    keys,
                ),
            )
        print(
            f"{len(load):,} {self.unit} of {sum(map(len, load)) / len(load):,.0f} bytes on average "
            f"(after {len(warm):,} to warm up) per run, {args.rounds} runs of each subject, "
            f"{args.connections} concurrent connections, capture.mode={args.capture_mode}, "
            "SQLite journal (WAL, synchronous=FULL)"
        )
        print_results(results, self.unit)
