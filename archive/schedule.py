"""Scheduled sealing. The jobs are plain objects; APScheduler only calls them.

``SealJob`` seals under a journal lease (one sealer across replicas) and backs
off exponentially while the store is unavailable; the records simply wait in
the journal. ``BacklogTrigger`` runs the same job early when the backlog
passes a threshold.
"""

from __future__ import annotations

import asyncio
import socket
import threading
import time
import uuid
from collections.abc import Callable, Iterator, Sequence
from contextlib import contextmanager
from dataclasses import dataclass
from datetime import datetime, timedelta

import structlog
from apscheduler.schedulers.asyncio import AsyncIOScheduler

from archive.clock import Clock
from archive.errors import SealError, StoreError, StoreUnavailableError
from archive.journal import Leases, RecordLog, SealerJournal
from archive.keys import Signer
from archive.observe import observer
from archive.seal import SealPolicy, SealReport, seal
from archive.store import ArchiveStore

log = structlog.get_logger("chatkeeper.schedule")
LEASE = "seal"


def lease_holder() -> str:
    """A holder name unique to this process: host and a random suffix."""
    return f"{socket.gethostname()}:{uuid.uuid4().hex[:8]}"


@contextmanager
def sealing_lease(journal: Leases, clock: Clock, lease_seconds: float) -> Iterator[str]:
    """Hold the sealing lease for a one-off job (``chatkeeper seal``, a key rotation).

    SealError when another sealer (a running ``serve``, another replica) holds it,
    so two sealers never write the same bundle or checkpoint number.
    """
    holder = lease_holder()
    if not journal.acquire_lease(LEASE, holder, clock.now(), lease_seconds):
        raise SealError("another sealer holds the sealing lease (is serve running?); try again")
    try:
        yield holder
    finally:
        journal.release_lease(LEASE, holder)


@dataclass
class SealJob:
    journal: SealerJournal
    store: ArchiveStore
    signer: Signer
    policy: SealPolicy
    clock: Clock
    lease_seconds: float = 900.0
    max_backoff_seconds: float = 600.0
    holder: str = ""
    failures: int = 0
    not_before: datetime | None = None
    load_signer: Callable[[], Signer] | None = None
    # Run in order, under the lease, after each seal that produced bundles
    # (the search index update, seal-time legal holds, ...); see ``_after_seal``.
    after_seal: Sequence[Callable[[SealReport], object]] = ()

    def __post_init__(self) -> None:
        self.holder = self.holder or lease_holder()
        self._lock = threading.Lock()

    def __call__(self) -> SealReport | None:
        """Seal now unless backing off or another replica holds the lease."""
        now = self.clock.now()
        if self.not_before is not None and now < self.not_before:
            return None
        if not self._lock.acquire(blocking=False):
            return None
        try:
            if not self.journal.acquire_lease(LEASE, self.holder, now, self.lease_seconds):
                log.info("seal.lease_busy")
                return None
            try:
                if self.load_signer is not None:
                    self.signer = self.load_signer()
                started = time.perf_counter()
                report = seal(self.journal, self.store, self.signer, self.policy, self.clock)
                observer().sealed(
                    time.perf_counter() - started,
                    len(report.bundles),
                    sum(b.records_size or 0 for b in report.bundles),
                )
                if report.bundles:
                    log.info("seal.done", bundles=len(report.bundles), records=report.records)
                    self._after_seal(report)
            finally:
                self.journal.release_lease(LEASE, self.holder)
        except (StoreUnavailableError, StoreError) as exc:
            self.failures += 1
            delay = min(5.0 * 2 ** (self.failures - 1), self.max_backoff_seconds)
            self.not_before = now + timedelta(seconds=delay)
            log.error("seal.failed", error=str(exc), failures=self.failures, retry_in=delay)
            return None
        finally:
            self._lock.release()
        self.failures, self.not_before = 0, None
        return report

    def _after_seal(self, report: SealReport) -> None:
        """Each hook in order; a failing hook is logged (its name and error type, never its
        message, which may hold data) and never fails the seal or the hooks after it."""
        for hook in self.after_seal:
            try:
                hook(report)
            except Exception as exc:
                log.error(
                    "seal.after_seal_failed",
                    hook=getattr(hook, "__qualname__", type(hook).__name__),
                    error=type(exc).__name__,
                )


@dataclass
class BacklogTrigger:
    """Runs ``job`` when the unsealed backlog reaches ``threshold`` records."""

    journal: RecordLog
    stream: str
    threshold: int
    job: Callable[[], object]

    def __call__(self) -> bool:
        if self.journal.stats(self.stream).unsealed >= self.threshold:
            self.job()
            return True
        return False


class LoopSealing:
    """Scheduled sealing on the running event loop (APScheduler's ``AsyncIOScheduler``).

    The periodic seal and the backlog check are APScheduler jobs (one instance
    each, missed runs coalesced). Each run of the blocking job goes to a worker
    thread, so nothing blocks the loop and no other thread touches its objects.
    ``stop()`` stops scheduling and awaits a run in progress, so a seal is never
    cut off and the journal is never closed under it.
    """

    def __init__(
        self,
        seal: Callable[[], object],
        backlog: Callable[[], object],
        *,
        interval_seconds: float,
        backlog_check_seconds: float,
        first_run: datetime,
    ) -> None:
        """``seal`` runs every ``interval_seconds`` from ``first_run``; ``backlog`` (a
        ``BacklogTrigger``) every ``backlog_check_seconds``."""
        self._scheduler = AsyncIOScheduler(timezone="UTC")
        self._running: set[asyncio.Future[object]] = set()
        every = {"trigger": "interval", "max_instances": 1, "coalesce": True}
        self._scheduler.add_job(
            self._run, args=[seal], seconds=interval_seconds, next_run_time=first_run, **every
        )
        self._scheduler.add_job(self._run, args=[backlog], seconds=backlog_check_seconds, **every)

    async def _run(self, work: Callable[[], object]) -> None:
        run = asyncio.ensure_future(asyncio.to_thread(work))
        self._running.add(run)
        run.add_done_callback(self._running.discard)
        try:
            await asyncio.shield(run)  # a scheduler shutdown cancels this wait, never the run
        except asyncio.CancelledError:
            return  # shutting down: stop() awaits the run itself

    def start(self) -> None:
        """Start scheduling on the running event loop."""
        self._scheduler.start()

    async def stop(self) -> None:
        """Schedule nothing more; wait for a run in progress to finish."""
        self._scheduler.shutdown(wait=False)
        await asyncio.gather(*self._running, return_exceptions=True)
