"""Seal, imports and backfill report progress; the CLI draws a bar only on a terminal."""

from __future__ import annotations

import fcntl
import os
import pty
import struct
import subprocess
import sys
import termios
from dataclasses import dataclass, field, replace
from pathlib import Path

from archive.clock import FixedClock
from archive.journal.sqlite import SqliteJournal
from archive.keys import Signer
from archive.seal import SealPolicy, seal
from archive.store.s3 import S3ArchiveStore
from bots.slack.backfill import backfill_channel, history_client
from bots.slack.export_import import import_slack_export
from bots.telegram.export_files import BlobTarget
from bots.telegram.export_import import import_telegram_export
from tests.bots.slack.conftest import PUBLIC, TEAM, start_harness
from tests.bots.slack.test_backfill import SINCE, _seed
from tests.bots.slack.test_export_import import write_export
from tests.bots.telegram.test_export_import import _export, _message
from tests.factories import slack_message


@dataclass
class Recorded:
    """A Progress that keeps what it was told."""

    totals: list[tuple[int | None, str]] = field(default_factory=list)
    steps: list[str] = field(default_factory=list)
    done: int = 0

    def total(self, count: int | None, unit: str) -> None:
        self.totals.append((count, unit))

    def step(self, what: str) -> None:
        self.steps.append(what)

    def advance(self, count: int = 1) -> None:
        self.done += count


def test_seal_counts_records_and_names_each_bundle(
    journal: SqliteJournal,
    store: S3ArchiveStore,
    signer: Signer,
    policy: SealPolicy,
    clock: FixedClock,
) -> None:
    """Sealing 25 records in bundles of 10 reports 25 records, bundles 1-3, then the checkpoint."""
    journal.append([slack_message(i) for i in range(25)])
    progress = Recorded()
    seal(journal, store, signer, replace(policy, max_records=10), clock, progress)
    assert progress.totals == [(25, "record")] and progress.done == 25
    assert [s for s in progress.steps if s.startswith("bundle")] == [
        "bundle 1",
        "bundle 2",
        "bundle 3",
    ]
    assert progress.steps[-1] == "checkpoint"


def test_slack_import_counts_day_files(journal: SqliteJournal, tmp_path: Path) -> None:
    """A Slack export import reports each day file it reads."""
    progress = Recorded()
    import_slack_export(journal, write_export(tmp_path / "export.zip"), progress=progress)
    ((count, unit),) = progress.totals
    assert unit == "file" and count == progress.done == len(progress.steps) >= 3
    assert all(step.endswith(".json") for step in progress.steps)


def test_telegram_import_counts_messages(
    journal: SqliteJournal, store: S3ArchiveStore, policy: SealPolicy, tmp_path: Path
) -> None:
    """A Telegram export import reports every message and names the chat."""
    progress = Recorded()
    folder = _export(tmp_path, [_message(n, f"text {n}") for n in range(1, 8)])
    blobs = BlobTarget(store, policy.layout, "COMPLIANCE", 1)
    import_telegram_export(journal, folder, blobs=blobs, progress=progress)
    assert progress.totals == [(7, "message")] and progress.done == 7
    assert progress.steps[0] == "reading the export" and progress.steps[1].startswith("chat ")


async def test_backfill_counts_messages_read(journal: SqliteJournal) -> None:
    """A backfill reports each page of history and each thread it reads."""
    progress = Recorded()
    async for harness in start_harness(journal):
        _seed(harness, parents=25, replies=4)
        client = history_client(harness.state.token, harness.fake.api_base_url)
        await backfill_channel(
            journal,
            client,
            team=TEAM,
            channel=PUBLIC,
            oldest=SINCE,
            page_size=10,
            requests_per_minute=6000,
            progress=progress,
        )
    assert progress.done >= 29
    assert progress.steps[0] == f"{PUBLIC}: history"
    assert f"{PUBLIC}: thread 1 of 1" in progress.steps


def _seal_cli(env: dict[str, str], stderr_on_terminal: bool) -> bytes:
    """Run `chatkeeper seal` with its standard error on a pseudo-terminal or a pipe."""
    command = [sys.executable, "-c", "from chatkeeper.cli import main; main()", "seal"]
    full_env = {**os.environ, **env}
    if not stderr_on_terminal:
        done = subprocess.run(command, env=full_env, capture_output=True, timeout=120, check=False)
        assert done.returncode == 0, done.stderr
        return done.stderr
    leader, follower = pty.openpty()
    fcntl.ioctl(follower, termios.TIOCSWINSZ, struct.pack("HHHH", 24, 120, 0, 0))  # 120 columns
    try:
        process = subprocess.Popen(
            command,
            env=full_env,
            stdout=subprocess.DEVNULL,
            stderr=follower,
            stdin=subprocess.DEVNULL,
        )
        os.close(follower)
        chunks = []
        while True:
            try:
                chunk = os.read(leader, 4096)
            except OSError:  # the terminal closed: the process is done
                break
            if not chunk:
                break
            chunks.append(chunk)
        assert process.wait(timeout=120) == 0
    finally:
        os.close(leader)
    return b"".join(chunks)


def test_cli_seal_draws_a_bar_only_on_a_terminal(env: dict[str, str]) -> None:
    """On a terminal `seal` shows a record bar naming the step; piped, standard error has no bar."""
    home = Path(env["CHATKEEPER_HOME"])
    home.mkdir(parents=True)
    with SqliteJournal(home / "journal.db") as journal:
        journal.append([slack_message(i) for i in range(30)])
    env = {**env, "CHATKEEPER_LOG_LEVEL": "error"}
    drawn = _seal_cli(env, stderr_on_terminal=True)
    assert b"record" in drawn and b"30/30" in drawn
    with SqliteJournal(home / "journal.db") as journal:
        journal.append([slack_message(i) for i in range(30, 40)])
    piped = _seal_cli(env, stderr_on_terminal=False)
    assert b"record" not in piped and b"\r" not in piped
