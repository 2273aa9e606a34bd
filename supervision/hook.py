"""The "after each seal" hook: screen what was just sealed.

The composition root builds one ``AfterSeal`` at start-up and calls it after every
successful seal, in the thread that sealed (``chatkeeper serve``: right after
``SealJob.__call__`` returns a ``SealReport`` with bundles, and after ``chatkeeper seal``).
It never raises: a failure is logged (``supervision.screen_failed``) and the next call, or
``chatkeeper review screen``, catches up from the last screened bundle. Sealing never waits
for supervision and never fails because of it.
"""

from __future__ import annotations

import threading
from dataclasses import dataclass, field

import structlog

from archive.bundle import Layout
from archive.errors import ChatkeeperError
from archive.keys import PublicKey
from archive.seal import SealReport
from archive.store import ArchiveStore
from supervision.queue import QueueStore
from supervision.runner import ScreenReport, screen_sealed
from supervision.screen import Screener

log = structlog.get_logger("chatkeeper.supervision")


@dataclass
class AfterSeal:
    store: ArchiveStore
    layout: Layout
    keys: dict[str, PublicKey]
    queue: QueueStore
    screener: Screener
    context_messages: int = 3
    _lock: threading.Lock = field(default_factory=threading.Lock, init=False, repr=False)

    def __call__(self, report: SealReport | None = None) -> ScreenReport | None:
        """Screen newly sealed bundles; None when nothing was sealed or screening failed."""
        if report is not None and not report.bundles:
            return None
        if not self.screener.policies:
            return None
        with self._lock:
            try:
                return screen_sealed(
                    self.store,
                    self.layout,
                    self.keys,
                    self.queue,
                    self.screener,
                    context_messages=self.context_messages,
                )
            except ChatkeeperError as exc:
                log.error("supervision.screen_failed", error=type(exc).__name__, detail=str(exc))
                return None
