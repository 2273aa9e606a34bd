"""Two real `chatkeeper serve` processes on one PostgreSQL journal: lease, kill -9, takeover."""

from __future__ import annotations

import asyncio
import contextlib
import itertools
import json
import os
import shutil
import signal
import sys
import time
from collections import Counter
from collections.abc import AsyncIterator, Iterator
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import aiohttp
import psycopg
from click.testing import CliRunner

from archive.journal import BundleState
from archive.journal.postgres import PostgresJournal
from archive.keys import load_or_create_signer
from archive.schedule import LEASE
from archive.store.local_s3 import LocalS3Endpoint
from bots.slack.sandbox import RunningFakeSlack, SlackSender, envelope, serve_fake_slack
from chatkeeper.cli import cli
from tests.bots.slack.conftest import PUBLIC, SECRET, TEAM, sandbox_state

LEASE_SECONDS = 4.0
STREAM = "replicas"


@dataclass
class Replica:
    name: str
    home: Path
    process: asyncio.subprocess.Process
    log: Path
    port: int = 0
    holder: str = ""

    @property
    def url(self) -> str:
        return f"http://127.0.0.1:{self.port}"

    async def started(self) -> None:
        """Wait (bounded) for the serve.listening line: its port and its lease holder name."""
        for _ in range(600):
            for line in self.log.read_text(errors="replace").splitlines():
                with contextlib.suppress(ValueError):
                    entry = json.loads(line)
                    if isinstance(entry, dict) and entry.get("event") == "serve.listening":
                        self.port, self.holder = int(entry["port"]), str(entry["lease_holder"])
                        return
            if self.process.returncode is not None:
                break
            await asyncio.sleep(0.05)
        raise AssertionError(f"{self.name} did not start: {self.log.read_text()[-2000:]}")


@dataclass
class Deliveries:
    acked: set[str] = field(default_factory=set)
    refused: int = 0
    _ids: Iterator[int] = field(default_factory=lambda: itertools.count(1))

    async def send(self, sender: SlackSender) -> None:
        n = next(self._ids)
        event_id = f"EvReplica{n:06d}"
        message = {
            "type": "message",
            "channel": PUBLIC,
            "user": "U0ALICE01",
            "text": f"message {n}",
            "ts": f"1764410000.{n:06d}",
            "channel_type": "channel",
        }
        try:
            delivered = await sender.event(envelope(TEAM, message, event_id=event_id))
        except (aiohttp.ClientError, OSError):
            self.refused += 1
            return
        if delivered.status == 200:
            self.acked.add(event_id)
        else:
            self.refused += 1


def _env(
    home: Path, dsn: str, endpoint: LocalS3Endpoint, bucket: str, fake: RunningFakeSlack
) -> dict[str, str]:
    keep = {k: v for k, v in os.environ.items() if not k.startswith("CHATKEEPER_")}
    return {
        **keep,
        "PYTHONUNBUFFERED": "1",  # a kill -9 must not take written log lines with it
        "CHATKEEPER_HOME": str(home),
        "CHATKEEPER_JOURNAL_DSN": dsn,
        "CHATKEEPER_ARCHIVE_STREAM": STREAM,
        "CHATKEEPER_S3_ENDPOINT": endpoint.url,
        "CHATKEEPER_S3_BUCKET": bucket,
        "CHATKEEPER_S3_ACCESS_KEY": endpoint.archiver.access_key,
        "CHATKEEPER_S3_SECRET_KEY": endpoint.archiver.secret_key,
        "CHATKEEPER_ARCHIVE_RETENTION_DAYS": "1",
        "CHATKEEPER_ARCHIVE_MIN_RETENTION_DAYS": "1",
        "CHATKEEPER_ARCHIVE_BUNDLE_MAX_RECORDS": "10",
        "CHATKEEPER_SERVER_HOST": "127.0.0.1",
        "CHATKEEPER_SERVER_PORT": "0",
        "CHATKEEPER_CAPTURE_MODE": "all",
        "CHATKEEPER_SCHEDULE_LEASE_SECONDS": str(LEASE_SECONDS),
        "CHATKEEPER_SCHEDULE_SEAL_BACKLOG_THRESHOLD": "1",
        "CHATKEEPER_SCHEDULE_BACKLOG_CHECK_SECONDS": "0.1",
        "CHATKEEPER_SCHEDULE_SEAL_INTERVAL_SECONDS": "3600",
        "CHATKEEPER_LOG_FORMAT": "json",
        "CHATKEEPER_LOG_LEVEL": "info",
        "CHATKEEPER_SLACK_ENABLED": "true",
        "CHATKEEPER_SLACK_SIGNING_SECRET": SECRET,
        "CHATKEEPER_SLACK_BOT_TOKEN": fake.state.token,
        "CHATKEEPER_SLACK_API_BASE_URL": fake.api_base_url,
        "CHATKEEPER_SLACK_FILE_HOSTS": fake.file_host,
    }


@contextlib.asynccontextmanager
async def replicas(
    tmp_path: Path, dsn: str, endpoint: LocalS3Endpoint, bucket: str, fake: RunningFakeSlack
) -> AsyncIterator[list[Replica]]:
    """Two serve processes with the same signing key; every process is gone afterwards."""
    load_or_create_signer(tmp_path / "a" / "keys")
    shutil.copytree(tmp_path / "a" / "keys", tmp_path / "b" / "keys")
    with PostgresJournal(dsn):  # the schema exists before two processes open it
        pass
    started: list[Replica] = []
    try:
        for name in ("a", "b"):
            home = tmp_path / name
            log = tmp_path / f"{name}.log"
            with log.open("wb") as out:
                process = await asyncio.create_subprocess_exec(
                    sys.executable,
                    "-c",
                    "from chatkeeper.cli import main; main()",
                    "serve",
                    env=_env(home, dsn, endpoint, bucket, fake),
                    stdin=asyncio.subprocess.DEVNULL,
                    stdout=out,
                    stderr=out,
                )
            started.append(Replica(name, home, process, log))
        for replica in started:
            await replica.started()
        yield started
    finally:
        for replica in started:
            if replica.process.returncode is None:
                replica.process.send_signal(signal.SIGTERM)
        for replica in started:
            try:
                await asyncio.wait_for(replica.process.wait(), 30)
            except TimeoutError:
                replica.process.kill()
                await replica.process.wait()


def _lease(dsn: str) -> tuple[str, Any] | None:
    with psycopg.connect(dsn) as conn:
        row = conn.execute(
            "SELECT holder, expires_at FROM leases WHERE name = %s", (LEASE,)
        ).fetchone()
    return (str(row[0]), row[1]) if row else None


async def test_two_replicas_capture_one_seals_and_the_survivor_takes_over_after_kill_9(
    tmp_path: Path, pg_database: str, s3_endpoint: LocalS3Endpoint, bucket: str
) -> None:
    """Kill -9 of the lease holder mid-seal: nothing acknowledged is lost, sealed once, verify intact."""
    fake = await serve_fake_slack(sandbox_state())
    sent = Deliveries()
    try:
        async with (
            replicas(tmp_path, pg_database, s3_endpoint, bucket, fake) as (a, b),
            aiohttp.ClientSession() as http,
        ):
            senders = {r.name: SlackSender(http, r.url, SECRET) for r in (a, b)}
            by_holder = {a.holder: a, b.holder: b}
            with PostgresJournal(pg_database) as journal:
                for _ in range(600):  # both capture, and sealing runs while they do
                    await asyncio.gather(sent.send(senders["a"]), sent.send(senders["b"]))
                    if len(sent.acked) >= 40 and journal.stats(STREAM).last_sealed is not None:
                        break
            victim: Replica | None = None
            for _ in range(
                3000
            ):  # deliveries keep sealing busy until a seal is caught holding the lease
                await asyncio.gather(sent.send(senders["a"]), sent.send(senders["b"]))
                lease = await asyncio.to_thread(_lease, pg_database)
                if lease is not None and lease[0] in by_holder:
                    victim = by_holder[lease[0]]
                    victim.process.send_signal(signal.SIGKILL)
                    killed_at = time.monotonic()
                    await victim.process.wait()
                    break
            assert victim is not None, "no seal was ever seen holding the lease"
            survivor = b if victim is a else a
            assert await asyncio.to_thread(_lease, pg_database) == lease  # the dead holder's row
            for _ in range(20):  # the survivor keeps capturing meanwhile
                await sent.send(senders[survivor.name])
            await sent.send(senders[victim.name])  # refused: the process is gone
            taken_over = None
            with PostgresJournal(pg_database) as journal:
                for _ in range(600):
                    stats = journal.stats(STREAM)
                    owner = await asyncio.to_thread(_lease, pg_database)
                    if owner is not None and owner[0] == survivor.holder and taken_over is None:
                        taken_over = time.monotonic()
                    if stats.unsealed == 0 and all(
                        row.state is BundleState.SEALED for row in journal.bundles(STREAM)
                    ):
                        if taken_over is None:
                            taken_over = time.monotonic()
                        break
                    await asyncio.sleep(0.05)
                assert stats.unsealed == 0, stats
                rows = journal.bundles(STREAM)
                records = list(journal.iter_records())
            assert survivor.process.returncode is None
    finally:
        await fake.close()

    assert taken_over is not None and taken_over - killed_at < LEASE_SECONDS + 10.0
    assert sent.refused >= 1
    events = Counter(json.loads(r.raw)["event_id"] for r in records)
    assert set(events) >= sent.acked and len(sent.acked) >= 60
    assert max(events.values()) == 1  # every delivery in the journal exactly once
    assert all(row.state is BundleState.SEALED for row in rows)
    assert [row.number for row in rows] == list(range(1, len(rows) + 1))
    covered = [seq for row in rows for seq in range(row.seq_first, row.seq_last + 1)]
    assert sorted(covered) == sorted(r.seq for r in records if r.seq is not None)
    assert len(covered) == len(set(covered)) == sum(row.record_count for row in rows)
    env = {
        k: v
        for k, v in _env(survivor.home, pg_database, s3_endpoint, bucket, fake).items()
        if k.startswith("CHATKEEPER_")
    }
    result = CliRunner().invoke(cli, ["verify", "--deep", "--json"], env=env)
    assert result.exit_code == 0, result.output
    report = json.loads(result.output)
    assert report["records"] == len(records) and report["bundles"] == len(rows)
    sealed_by = Counter(n for r in (a, b) for n in _sealed_bundles(r.log))
    assert set(sealed_by.values()) == {1}  # no bundle sealed by both replicas
    unlogged = {row.number for row in rows} - set(sealed_by)
    assert set(sealed_by) <= {row.number for row in rows}
    # The victim can die between its bundle's commit and its log line: at most that one bundle.
    assert len(unlogged) <= 1, unlogged


def _sealed_bundles(log: Path) -> list[int]:
    """Bundle numbers this replica's log says it sealed."""
    numbers = []
    for line in log.read_text(errors="replace").splitlines():
        with contextlib.suppress(ValueError):
            entry = json.loads(line)
            if isinstance(entry, dict) and entry.get("event") == "bundle.sealed":
                numbers.append(int(entry["bundle"]))
    return numbers
