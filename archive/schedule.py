"""Scheduled sealing. The jobs are plain objects; APScheduler only calls them.

``SealJob`` seals under a journal lease (one sealer across replicas) and backs
off exponentially while the store is unavailable; the records simply wait in
the journal. ``BacklogTrigger`` runs the same job early when the backlog
passes a threshold.
"""

from __future__ import annotations

import socket
import threading
import uuid
from collections.abc import Callable
from dataclasses import dataclass
from datetime import datetime, timedelta

import structlog
from apscheduler.schedulers.base import BaseScheduler

from archive.clock import Clock
from archive.errors import StoreError, StoreUnavailableError
from archive.journal import Journal
from archive.keys import Signer
from archive.seal import SealPolicy, SealReport, seal
from archive.store import ArchiveStore

log = structlog.get_logger("chatkeeper.schedule")
LEASE = "seal"


@dataclass
class SealJob:
    journal: Journal
    store: ArchiveStore
    signer: Signer
    policy: SealPolicy
    clock: Clock
    lease_seconds: float = 900.0
    max_backoff_seconds: float = 600.0
    holder: str = ""
    after_seal: Callable[[SealReport], object] | None = None  # e.g. update the search index
    failures: int = 0
    not_before: datetime | None = None

    def __post_init__(self) -> None:
        self.holder = self.holder or f"{socket.gethostname()}:{uuid.uuid4().hex[:8]}"
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
                report = seal(self.journal, self.store, self.signer, self.policy, self.clock)
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
        if report.bundles:
            log.info("seal.done", bundles=len(report.bundles), records=report.records)
            if self.after_seal is not None:
                self.after_seal(report)
        return report


@dataclass
class BacklogTrigger:
    """Runs ``job`` when the unsealed backlog reaches ``threshold`` records."""

    journal: Journal
    stream: str
    threshold: int
    job: Callable[[], object]

    def __call__(self) -> bool:
        if self.journal.stats(self.stream).unsealed >= self.threshold:
            self.job()
            return True
        return False


def install(
    scheduler: BaseScheduler,
    job: SealJob,
    *,
    interval_seconds: float,
    backlog_threshold: int,
    backlog_check_seconds: float,
) -> None:
    """Add the periodic seal and the backlog check to an APScheduler scheduler."""
    trigger = BacklogTrigger(job.journal, job.policy.layout.stream, backlog_threshold, job)
    scheduler.add_job(
        job,
        "interval",
        seconds=interval_seconds,
        id="seal",
        max_instances=1,
        coalesce=True,
        next_run_time=job.clock.now(),
    )
    scheduler.add_job(
        trigger,
        "interval",
        seconds=backlog_check_seconds,
        id="seal-backlog",
        max_instances=1,
        coalesce=True,
    )
