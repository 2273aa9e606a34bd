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
commit). The captures of one event loop turn go to the journal as one
submission, and the writer thread wakes them all with one
``call_soon_threadsafe`` (:class:`_LoopBatch`): per record, the event loop
creates one asyncio future and nothing else.
"""

from __future__ import annotations

import asyncio
import contextlib
import weakref
from collections.abc import Sequence
from concurrent.futures import Future
from dataclasses import dataclass
from datetime import datetime

from archive.errors import JournalError
from archive.journal.aio import AsyncJournal
from archive.journal.port import Journal
from archive.model import Kind, Platform, Record
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


_Waiter = tuple[Sequence[Record], "asyncio.Future[list[int]]"]


class _LoopBatch:
    """The captures of one event loop turn, committed together and woken together.

    Every ``capture()`` of a turn adds its records here; one callback at the
    end of the turn hands all of them to ``journal.submit`` (one submission,
    encoded in one pass). The writer thread resolves that one future; one
    ``call_soon_threadsafe`` then gives each waiting capture its own seqs.
    """

    def __init__(self, loop: asyncio.AbstractEventLoop) -> None:
        # Weakly: the batch is the value of a WeakKeyDictionary keyed by its loop.
        self._loop = weakref.ref(loop)
        self._waiting: dict[int, tuple[Journal, list[_Waiter]]] = {}

    def add(
        self, loop: asyncio.AbstractEventLoop, journal: Journal, records: Sequence[Record]
    ) -> asyncio.Future[list[int]]:
        target: asyncio.Future[list[int]] = loop.create_future()
        if not self._waiting:
            loop.call_soon(self._submit)
        entry = self._waiting.get(id(journal))
        if entry is None:
            entry = self._waiting[id(journal)] = (journal, [])
        entry[1].append((records, target))
        return target

    def _submit(self) -> None:
        waiting, self._waiting = self._waiting, {}
        for journal, waiters in waiting.values():
            self._submit_to(journal, waiters)

    def _submit_to(self, journal: Journal, waiters: list[_Waiter]) -> None:
        try:
            source = journal.submit([r for records, _ in waiters for r in records])
        except Exception as exc:
            _fail(waiters, exc)
            return
        if len(waiters) > 1 and source.done() and source.exception() is not None:
            # Refused before any commit (a record that cannot be serialized, a closed
            # journal): submit each capture alone, so that only the bad one fails.
            for waiter in waiters:
                self._submit_to(journal, [waiter])
            return
        source.add_done_callback(lambda done: self._committed(done, waiters))

    def _committed(self, source: Future[list[int]], waiters: list[_Waiter]) -> None:
        loop = self._loop()
        if loop is None:  # a collected loop has nobody waiting
            return
        with contextlib.suppress(RuntimeError):  # nor has a closed one
            loop.call_soon_threadsafe(_deliver, source, waiters)


def _deliver(source: Future[list[int]], waiters: list[_Waiter]) -> None:
    error = source.exception()
    if error is not None:
        _fail(waiters, error)
        return
    seqs = source.result()
    _count([r for records, _ in waiters for r in records])
    start = 0
    for records, target in waiters:
        if not target.cancelled():
            target.set_result(seqs[start : start + len(records)])
        start += len(records)


def _fail(waiters: list[_Waiter], error: BaseException) -> None:
    for _, target in waiters:
        if not target.cancelled():
            target.set_exception(error)


_batches: weakref.WeakKeyDictionary[asyncio.AbstractEventLoop, _LoopBatch] = (
    weakref.WeakKeyDictionary()
)


async def capture(
    journal: Journal, records: Sequence[Record], fetches: Sequence[FileFetch] = ()
) -> list[int]:
    """Make ``records`` durable, then queue ``fetches``; return the records' seqs.

    The event loop never blocks: the commit is awaited through the loop turn's
    group-commit submission, the queueing runs in a worker thread (one hop for all).
    """
    try:
        seqs = await _commit(journal, records)
    except JournalError:
        observer().journal_error()
        raise
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
    batch = _batches.get(loop)
    if batch is None:
        batch = _batches[loop] = _LoopBatch(loop)
    return await batch.add(loop, journal, records)


def _count(records: Sequence[Record]) -> None:
    # Keyed by the members (str hashes): an enum's ``.value`` is a Python-level lookup.
    counts: dict[tuple[Platform, Kind], int] = {}
    for r in records:
        key = (r.platform, r.kind)
        counts[key] = counts.get(key, 0) + 1
    for (platform, kind), n in counts.items():
        observer().captured(platform.value, kind.value, n)


def _enqueue(journal: Journal, fetches: Sequence[FileFetch]) -> None:
    for f in fetches:
        journal.enqueue_fetch(f.record_key, f.platform, f.ref, f.name, f.details, f.queued_at)
