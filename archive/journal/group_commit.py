"""Group commit: many concurrent writers, one transaction and one fsync per batch.

Writers call ``submit(rows)`` and get a Future. A single writer thread drains
everything queued so far into one ``commit_batch`` call, then resolves every
future with its seqs, or fails all of them with the same JournalError when the
transaction did not commit (nothing of the batch is stored then).
"""

from __future__ import annotations

import queue
import threading
from collections.abc import Callable, Sequence
from concurrent.futures import Future
from dataclasses import dataclass
from typing import Any

from archive.errors import JournalError

Rows = list[tuple[Any, ...]]
CommitBatch = Callable[[list[Rows]], list[list[int]]]
MAX_BATCH_RECORDS = 10_000


@dataclass(frozen=True, slots=True)
class CommitCounts:
    """Batches the writer thread has committed so far, and the records in them."""

    batches: int
    records: int

    @property
    def mean_batch(self) -> float:
        return self.records / self.batches if self.batches else 0.0


class _Stop:
    pass


_STOP = _Stop()


class GroupCommitter:
    def __init__(self, commit_batch: CommitBatch, name: str = "journal-writer") -> None:
        self._commit_batch = commit_batch
        self._queue: queue.SimpleQueue[tuple[Rows, Future[list[int]]] | _Stop] = queue.SimpleQueue()
        self._closed = False
        self._batches = 0
        self._records = 0
        self._thread = threading.Thread(target=self._loop, name=name, daemon=True)
        self._thread.start()

    def submit(self, rows: Sequence[tuple[Any, ...]]) -> Future[list[int]]:
        future: Future[list[int]] = Future()
        if self._closed:
            future.set_exception(JournalError("journal is closed"))
        else:
            self._queue.put((list(rows), future))
        return future

    @property
    def counts(self) -> CommitCounts:
        return CommitCounts(self._batches, self._records)

    def _loop(self) -> None:
        while True:
            first = self._queue.get()
            if isinstance(first, _Stop):
                return
            batch = [first]
            size = len(first[0])
            stop = False
            while size < MAX_BATCH_RECORDS:
                try:
                    item = self._queue.get_nowait()
                except queue.Empty:
                    break
                if isinstance(item, _Stop):
                    stop = True
                    break
                batch.append(item)
                size += len(item[0])
            self._run(batch)
            if stop:
                return

    def _run(self, batch: list[tuple[Rows, Future[list[int]]]]) -> None:
        try:
            results = self._commit_batch([rows for rows, _ in batch])
        except JournalError as exc:
            for _, future in batch:
                future.set_exception(exc)
            return
        except Exception as exc:
            error = JournalError(f"journal append failed, nothing was stored: {exc}")
            for _, future in batch:
                future.set_exception(error)
            return
        self._batches += 1
        self._records += sum(len(rows) for rows, _ in batch)
        for (_, future), seqs in zip(batch, results, strict=True):
            future.set_result(seqs)

    def close(self) -> None:
        if not self._closed:
            self._closed = True
            self._queue.put(_STOP)
            self._thread.join()
