"""The one capture step adapters call: records durable, then their files queued.

``await capture(journal, records, fetches)`` returns only after the records are
committed (rule 1: ack after durable commit) and the file fetches of those
records are queued for the attachment worker. If the journal fails, it raises
``JournalError`` and the caller must answer the platform with an error so the
platform retries. Duplicates (same key) return the existing seq; a fetch is
queued once per (record, file).

:func:`should_capture` is the capture policy (``capture.mode``).
Importers and CLI commands outside asyncio call ``journal.append`` directly.

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
from dataclasses import dataclass
from datetime import datetime

from archive.errors import JournalError
from archive.journal.aio import AsyncJournal
from archive.journal.port import Journal
from archive.model import Record
from archive.observe import observer


@dataclass(frozen=True, slots=True)
class FileFetch:
    """One file of a captured record, for the attachment worker to download."""

    record_key: str
    platform: str
    ref: str  # the platform's file id
    name: str
    details: str  # adapter-specific JSON (never a token)
    queued_at: datetime


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


async def capture(
    journal: Journal, records: Sequence[Record], fetches: Sequence[FileFetch] = ()
) -> list[int]:
    """Make ``records`` durable, then queue ``fetches``; return the records' seqs.

    The event loop never blocks: the commit is awaited through the group
    commit's future, the queueing runs in a worker thread (one hop for all).
    """
    try:
        seqs = await _commit(journal, records)
    except JournalError:
        observer().journal_error()
        raise
    _count(records)
    if fetches:
        await asyncio.to_thread(_enqueue, journal, fetches)
    return seqs


async def should_capture(
    journal: AsyncJournal, mode: str, platform: str, workspace: str, conversation: str
) -> bool:
    """``capture.mode``: "all" captures everything the bot sees; "opt_in" only monitored ones."""
    return mode == "all" or await journal.is_monitored(platform, workspace, conversation)


async def _commit(journal: Journal, records: Sequence[Record]) -> list[int]:
    if not records:
        return []
    loop = asyncio.get_running_loop()
    bridge = _bridges.get(loop)
    if bridge is None:
        bridge = _bridges[loop] = _LoopBridge(loop)
    return await bridge.watch(journal.submit(records))


def _count(records: Sequence[Record]) -> None:
    counts: dict[tuple[str, str], int] = {}
    for r in records:
        counts[(r.platform.value, r.kind.value)] = (
            counts.get((r.platform.value, r.kind.value), 0) + 1
        )
    for (platform, kind), n in counts.items():
        observer().captured(platform, kind, n)


def _enqueue(journal: Journal, fetches: Sequence[FileFetch]) -> None:
    for f in fetches:
        journal.enqueue_fetch(f.record_key, f.platform, f.ref, f.name, f.details, f.queued_at)
