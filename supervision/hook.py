"""The "after each seal" hook: screen what was just sealed.

The composition root builds one ``AfterSeal`` at start-up and passes it in
``SealJob.after_seal`` (``chatkeeper serve``) and calls it in ``chatkeeper seal``: it
runs after each seal that wrote bundles, in the thread that sealed, under the seal lease.
It never raises for a store or integrity failure: that is logged
(``supervision.screen_failed``) and the next call, or ``chatkeeper review screen``,
catches up from the last screened bundle. The pinned keys are looked up at each
screening (the first seal of a new deployment creates its key). Sealing never fails
because of supervision.
"""

from __future__ import annotations

import threading
from collections.abc import Callable
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
    keys: Callable[[], dict[str, PublicKey]]  # the pinned keys, looked up at each screening
    queue: QueueStore
    screener: Screener
    context_messages: int = 3
    _lock: threading.Lock = field(default_factory=threading.Lock, init=False, repr=False)

    def __call__(self, report: SealReport) -> None:
        """The after-seal hook: screen the new bundles (nothing when the seal wrote none)."""
        if report.bundles:
            self.screen()

    def screen(self) -> ScreenReport | None:
        """Screen every sealed bundle not screened yet; None when screening failed."""
        if not self.screener.policies:
            return None
        with self._lock:
            try:
                return screen_sealed(
                    self.store,
                    self.layout,
                    self.keys(),
                    self.queue,
                    self.screener,
                    context_messages=self.context_messages,
                )
            except ChatkeeperError as exc:
                log.error("supervision.screen_failed", error=type(exc).__name__, detail=str(exc))
                return None
