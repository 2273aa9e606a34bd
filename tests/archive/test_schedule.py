"""Scheduled sealing: lease, backoff, backlog trigger, and APScheduler on the event loop."""

from __future__ import annotations

import asyncio
import threading
import time
from collections.abc import Callable
from datetime import UTC, datetime, timedelta

import pytest
from structlog.testing import capture_logs

from archive.clock import FixedClock
from archive.errors import StoreUnavailableError
from archive.journal.sqlite import SqliteJournal
from archive.keys import Signer
from archive.schedule import LEASE, BacklogTrigger, LoopSealing, SealJob
from archive.seal import SealPolicy, SealReport
from archive.store.s3 import S3ArchiveStore, make_client
from tests.factories import slack_message


def test_job_seals_and_releases_lease(
    journal: SqliteJournal,
    store: S3ArchiveStore,
    signer: Signer,
    policy: SealPolicy,
    clock: FixedClock,
) -> None:
    """A run seals the backlog and leaves the lease free for the next replica."""
    journal.append([slack_message(i) for i in range(10)])
    report = SealJob(journal, store, signer, policy, clock)()
    assert report is not None and report.records == 10
    assert journal.acquire_lease(LEASE, "someone-else", clock.now(), 60)


def test_after_seal_hooks_run_in_order_under_the_lease_only_when_bundles_were_sealed(
    journal: SqliteJournal,
    store: S3ArchiveStore,
    signer: Signer,
    policy: SealPolicy,
    clock: FixedClock,
) -> None:
    """Each after_seal hook gets the report, in order, while the job still holds the lease."""
    calls: list[tuple[str, int, bool]] = []

    def hook(name: str) -> Callable[[SealReport], None]:
        def run(report: SealReport) -> None:
            lease_free = journal.acquire_lease(LEASE, "other-replica", clock.now(), 60)
            calls.append((name, report.records, lease_free))

        return run

    job = SealJob(journal, store, signer, policy, clock, after_seal=[hook("index"), hook("holds")])
    journal.append([slack_message(i) for i in range(3)])
    assert job() is not None
    assert calls == [("index", 3, False), ("holds", 3, False)]
    clock.advance(timedelta(seconds=1))
    assert job() is not None  # nothing new to seal: no bundle, no hook
    assert len(calls) == 2


def test_failing_after_seal_hook_is_logged_and_never_fails_the_seal(
    journal: SqliteJournal,
    store: S3ArchiveStore,
    signer: Signer,
    policy: SealPolicy,
    clock: FixedClock,
) -> None:
    """A hook that raises is logged by type; later hooks still run; the seal counts as done."""
    ran: list[int] = []

    def failing(report: SealReport) -> None:
        raise StoreUnavailableError("secret-detail-of-the-hook")

    job = SealJob(
        journal, store, signer, policy, clock, after_seal=[failing, lambda r: ran.append(r.records)]
    )
    journal.append([slack_message(1)])
    with capture_logs() as logs:
        report = job()
    assert report is not None and report.records == 1
    assert ran == [1]
    assert job.failures == 0 and job.not_before is None
    failed = [e for e in logs if e["event"] == "seal.after_seal_failed"]
    assert len(failed) == 1 and failed[0]["error"] == "StoreUnavailableError"
    assert "secret-detail" not in repr(logs)
    assert journal.stats("test").unsealed == 0


def test_job_skips_while_another_replica_holds_the_lease(
    journal: SqliteJournal,
    store: S3ArchiveStore,
    signer: Signer,
    policy: SealPolicy,
    clock: FixedClock,
) -> None:
    """With the lease held elsewhere, nothing is sealed."""
    journal.append([slack_message(1)])
    assert journal.acquire_lease(LEASE, "replica-b", clock.now(), 60)
    assert SealJob(journal, store, signer, policy, clock, holder="replica-a")() is None
    assert journal.stats("test").unsealed == 1


def test_job_backs_off_when_store_is_down(
    journal: SqliteJournal, signer: Signer, policy: SealPolicy, clock: FixedClock
) -> None:
    """An unreachable store doubles the wait between attempts; records stay journaled."""
    down = S3ArchiveStore(
        make_client("http://127.0.0.1:9", "a", "b", connect_timeout=0.1, max_attempts=1), "x"
    )
    journal.append([slack_message(1)])
    job = SealJob(journal, down, signer, policy, clock)
    assert job() is None and job.failures == 1
    assert job() is None and job.failures == 1  # still backing off: not attempted
    clock.advance(timedelta(seconds=6))
    assert job() is None and job.failures == 2
    assert job.not_before == clock.now() + timedelta(seconds=10)
    assert journal.stats("test").unsealed == 1


def test_backlog_trigger(
    journal: SqliteJournal,
    store: S3ArchiveStore,
    signer: Signer,
    policy: SealPolicy,
    clock: FixedClock,
) -> None:
    """The backlog check seals only once the threshold is reached."""
    job = SealJob(journal, store, signer, policy, clock)
    trigger = BacklogTrigger(journal, "test", threshold=5, job=job)
    journal.append([slack_message(i) for i in range(4)])
    assert trigger() is False
    journal.append([slack_message(4)])
    assert trigger() is True
    assert journal.stats("test").unsealed == 0


async def test_loop_sealing_runs_the_job_on_the_event_loop(
    journal: SqliteJournal,
    store: S3ArchiveStore,
    signer: Signer,
    policy: SealPolicy,
    clock: FixedClock,
) -> None:
    """Started on a running loop, APScheduler's backlog check seals without a call by hand."""
    job = SealJob(journal, store, signer, policy, clock)
    sealing = LoopSealing(
        job,
        BacklogTrigger(journal, "test", 1, job),
        interval_seconds=3600,
        backlog_check_seconds=0.2,
        first_run=clock.now() + timedelta(hours=1),  # only the backlog check runs
    )
    sealing.start()
    journal.append([slack_message(i) for i in range(3)])
    try:
        deadline = time.monotonic() + 30
        while journal.stats("test").unsealed and time.monotonic() < deadline:
            await asyncio.sleep(0.1)
    finally:
        await sealing.stop()
    assert journal.stats("test").unsealed == 0
    assert [b.number for b in journal.bundles("test")] == [1]


async def test_loop_sealing_stop_waits_for_a_seal_in_progress(
    journal: SqliteJournal,
    store: S3ArchiveStore,
    signer: Signer,
    policy: SealPolicy,
    clock: FixedClock,
    caplog: pytest.LogCaptureFixture,
) -> None:
    """stop() returns only after a running seal has finished (the journal is not closed under it),
    and the scheduler's shutdown is not reported as a failed job."""
    journal.append([slack_message(i) for i in range(3)])
    started, release = threading.Event(), threading.Event()
    job = SealJob(journal, store, signer, policy, clock)

    def slow_seal() -> object:
        started.set()
        release.wait(10)
        return job()

    sealing = LoopSealing(
        slow_seal,
        BacklogTrigger(journal, "test", 10_000, job),
        interval_seconds=3600,
        backlog_check_seconds=3600,
        first_run=datetime.now(UTC),
    )
    sealing.start()
    await asyncio.to_thread(started.wait, 10)
    stopping = asyncio.ensure_future(sealing.stop())
    await asyncio.sleep(0.2)
    assert not stopping.done()  # still waiting for the seal
    release.set()
    await stopping
    assert journal.stats("test").unsealed == 0
    failed = [r for r in caplog.records if r.name.startswith("apscheduler") and r.levelno >= 40]
    assert failed == []
