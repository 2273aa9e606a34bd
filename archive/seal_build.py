"""Records objects built ahead of sealing: on one thread, or in worker processes.

``seal`` finishes bundles strictly in number order on its own thread (upload the
records object, chain and sign the manifest, record each step); a builder makes
the records objects of the next bundles meanwhile, each exactly once, from the
journal's picklable ``RowSource``:

- ``ThreadBuilder`` reads, hashes and compresses bundle N+1 on one thread while
  bundle N uploads (the upload waits on the network, outside the GIL).
- ``ProcessBuilder`` builds up to ``workers`` bundles at a time in worker
  processes (reading, hashing and the Python around them take the GIL, so
  processes, not threads, use more than one core). Only the records objects
  come back; manifests are still chained and signed in order by ``seal``.

Worker processes are spawned (never forked from a process with journal and
HTTP threads), once per sealing run that has more than one bundle to build.
"""

from __future__ import annotations

import multiprocessing
from concurrent.futures import Future, ProcessPoolExecutor, ThreadPoolExecutor
from concurrent.futures.process import BrokenProcessPool
from typing import Protocol

from archive.bundle import RecordsObject, build_records_object
from archive.errors import SealError
from archive.journal import BundleRow, RowSource


def build_range(source: RowSource, first: int, last: int, level: int) -> RecordsObject:
    """The records object of the journal rows ``first..last`` (runs in a worker)."""
    return build_records_object(source.rows(first, last), level)


class Builder(Protocol):
    """Builds records objects ahead of the bundle being finished."""

    @property
    def depth(self) -> int:
        """How many bundles to keep in flight (built or building) for full overlap."""
        ...

    def submit(self, row: BundleRow) -> Future[RecordsObject]: ...

    def close(self) -> None:
        """Stop: builds not started are cancelled, running ones are waited for."""
        ...


class ThreadBuilder:
    """One build thread beside the caller's uploads."""

    depth = 2

    def __init__(self, source: RowSource, level: int) -> None:
        self._source = source
        self._level = level
        self._pool = ThreadPoolExecutor(max_workers=1, thread_name_prefix="seal-build")

    def submit(self, row: BundleRow) -> Future[RecordsObject]:
        return self._pool.submit(
            build_range, self._source, row.seq_first, row.seq_last, self._level
        )

    def close(self) -> None:
        self._pool.shutdown(wait=True, cancel_futures=True)


class ProcessBuilder:
    """``workers`` spawned processes, each building whole records objects."""

    def __init__(self, source: RowSource, level: int, workers: int) -> None:
        self._source = source
        self._level = level
        self.depth = workers + 1  # one more than the workers: the next build is always queued
        self._pool = ProcessPoolExecutor(
            max_workers=workers, mp_context=multiprocessing.get_context("spawn")
        )

    def submit(self, row: BundleRow) -> Future[RecordsObject]:
        try:
            return self._pool.submit(
                build_range, self._source, row.seq_first, row.seq_last, self._level
            )
        except BrokenProcessPool as exc:
            raise SealError(f"a sealing worker process died: {exc}") from exc

    def close(self) -> None:
        self._pool.shutdown(wait=True, cancel_futures=True)


def records_of(future: Future[RecordsObject], row: BundleRow) -> RecordsObject:
    """The built records object, with a dead worker process reported as a SealError."""
    try:
        return future.result()
    except BrokenProcessPool as exc:
        raise SealError(
            f"the sealing worker building bundle {row.number} died; the next run resumes it"
        ) from exc


def builder_for(source: RowSource, level: int, workers: int, bundles: int) -> Builder:
    """Worker processes when there is more than one bundle to build and more than one worker."""
    if workers > 1 and bundles > 1:
        return ProcessBuilder(source, level, workers)
    return ThreadBuilder(source, level)
