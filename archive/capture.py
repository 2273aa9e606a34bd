"""The one entry point adapters call to store records durably.

``await capture(journal, records)`` returns only after the records are
committed (rule 1: ack after durable commit). If the journal fails, it raises
``JournalError`` and the caller must answer the platform with an error so the
platform retries. Duplicates (same key) return the existing seq.

Many coroutines capture at once; the journal commits them together (group
commit). Their wake-ups are coalesced too: the writer thread hands finished
futures to the event loop in one ``call_soon_threadsafe`` per burst rather than
one per record.
"""

from __future__ import annotations

import asyncio
import contextlib
import threading
import weakref
from collections.abc import Sequence
from concurrent.futures import Future

from archive.journal.port import Journal
from archive.model import Record


class _LoopBridge:
    """Delivers results of journal futures to one event loop, in batches."""

    def __init__(self, loop: asyncio.AbstractEventLoop) -> None:
        self._loop = loop
        self._lock = threading.Lock()
        self._done: list[tuple[Future[list[int]], asyncio.Future[list[int]]]] = []

    def watch(self, source: Future[list[int]]) -> asyncio.Future[list[int]]:
        target: asyncio.Future[list[int]] = self._loop.create_future()
        source.add_done_callback(lambda f: self._finished(f, target))
        return target

    def _finished(self, source: Future[list[int]], target: asyncio.Future[list[int]]) -> None:
        with self._lock:
            self._done.append((source, target))
            first = len(self._done) == 1
        if first:
            with contextlib.suppress(RuntimeError):  # a closed loop has nobody waiting
                self._loop.call_soon_threadsafe(self._deliver)

    def _deliver(self) -> None:
        with self._lock:
            done, self._done = self._done, []
        for source, target in done:
            if target.cancelled():
                continue
            error = source.exception()
            if error is not None:
                target.set_exception(error)
            else:
                target.set_result(source.result())


_bridges: weakref.WeakKeyDictionary[asyncio.AbstractEventLoop, _LoopBridge] = (
    weakref.WeakKeyDictionary()
)


async def capture(journal: Journal, records: Sequence[Record]) -> list[int]:
    """Make ``records`` durable without blocking the event loop; return their seqs."""
    if not records:
        return []
    loop = asyncio.get_running_loop()
    bridge = _bridges.get(loop)
    if bridge is None:
        bridge = _bridges[loop] = _LoopBridge(loop)
    return await bridge.watch(journal.submit(records))


def capture_sync(journal: Journal, records: Sequence[Record]) -> list[int]:
    """The blocking twin for importers and CLI commands that run outside asyncio."""
    if not records:
        return []
    return journal.append(records)
