"""Records objects built ahead of sealing: on one thread, or in worker processes.

``seal`` finishes bundles strictly in number order on its own thread (upload the
records object, chain and sign the manifest, record each step); a builder makes
the records objects of the next bundles meanwhile, each exactly once, from the
journal's picklable ``RowSource``:

- ``ThreadBuilder`` reads, hashes and compresses bundle N+1 on one thread while
  bundle N uploads (the upload waits on the network, outside the GIL).
- ``ProcessBuilder`` builds up to ``workers`` bundles at a time in worker
  processes (reading, hashing and the Python around them take the GIL, so
  processes, not threads, use more than one core). A worker is sent only the
  row source and the seq bounds, reads the rows itself, and sends back the
  records object; manifests are still chained and signed in order by ``seal``.

A worker is a fresh interpreter running this module (``python -m
archive.seal_build``): never forked from a process with journal and HTTP
threads, and, unlike a ``multiprocessing`` spawn, it does not import the
parent's main module again (for ``chatkeeper`` that is the whole command tree,
seconds of CPU per worker). Requests and replies are pickles over the worker's
stdin and stdout; a worker that dies is a ``SealError`` and the next run
resumes its bundle.
"""

from __future__ import annotations

import contextlib
import os
import pickle
import queue
import signal
import subprocess
import sys
from concurrent.futures import Future, ThreadPoolExecutor
from dataclasses import dataclass
from typing import BinaryIO, Protocol, cast

from archive.bundle import RecordsObject, build_records_object
from archive.errors import ChatkeeperError, SealError
from archive.frames import FRAME_BYTES
from archive.journal import BundleRow, RowSource

_PROTOCOL = pickle.HIGHEST_PROTOCOL


@dataclass(frozen=True)
class Compression:
    """How records objects are compressed: zstd level, and lines per frame (``archive.frames``)."""

    level: int = 3
    frame_bytes: int = FRAME_BYTES


def build_range(source: RowSource, first: int, last: int, how: Compression) -> RecordsObject:
    """The records object of the journal rows ``first..last`` (runs in a worker)."""
    return build_records_object(source.rows(first, last), how.level, how.frame_bytes)


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

    def __init__(self, source: RowSource, how: Compression) -> None:
        self._source = source
        self._how = how
        self._pool = ThreadPoolExecutor(max_workers=1, thread_name_prefix="seal-build")

    def submit(self, row: BundleRow) -> Future[RecordsObject]:
        return self._pool.submit(build_range, self._source, row.seq_first, row.seq_last, self._how)

    def close(self) -> None:
        self._pool.shutdown(wait=True, cancel_futures=True)


class _Worker:
    """One worker process: requests go down its stdin, replies come up its stdout."""

    def __init__(self) -> None:
        # Our import path, and not the working directory (-P) whatever it holds.
        env = {**os.environ, "PYTHONPATH": os.pathsep.join(p for p in sys.path if p)}
        self._process = subprocess.Popen(
            [sys.executable, "-P", "-m", "archive.seal_build"],
            stdin=subprocess.PIPE,
            stdout=subprocess.PIPE,
            env=env,
        )

    @property
    def pid(self) -> int:
        return self._process.pid

    def build(self, source: RowSource, first: int, last: int, how: Compression) -> RecordsObject:
        assert self._process.stdin is not None and self._process.stdout is not None
        try:
            pickle.dump((source, first, last, how), self._process.stdin, _PROTOCOL)
            self._process.stdin.flush()
            ok, value = pickle.load(self._process.stdout)  # noqa: S301 - our own child
        except (OSError, EOFError, pickle.UnpicklingError) as exc:
            with contextlib.suppress(subprocess.TimeoutExpired):
                self._process.wait(timeout=5)
            raise SealError(
                f"a sealing worker process died (exit code {self._process.returncode}) while "
                f"building seqs {first}..{last}; the next run resumes it"
            ) from exc
        if not ok:
            raise value
        return cast(RecordsObject, value)

    def close(self) -> None:
        """Let the worker exit (end of its input), or kill it if it does not."""
        if self._process.stdin is not None:
            with contextlib.suppress(OSError):
                self._process.stdin.close()
        try:
            self._process.wait(timeout=30)
        except subprocess.TimeoutExpired:
            self._process.kill()
            self._process.wait()
        if self._process.stdout is not None:
            self._process.stdout.close()


class ProcessBuilder:
    """``workers`` worker processes, each building whole records objects.

    One thread per worker waits on its pipe (outside the GIL) and hands out
    futures like any executor.
    """

    def __init__(self, source: RowSource, how: Compression, workers: int) -> None:
        self._source = source
        self._how = how
        # Two per worker: while ``seal`` finishes one bundle (upload, manifest, journal),
        # every worker has its next build queued and never waits on it.
        self.depth = 2 * workers
        self._workers = [_Worker() for _ in range(workers)]
        self._idle: queue.SimpleQueue[_Worker] = queue.SimpleQueue()
        for worker in self._workers:
            self._idle.put(worker)
        self._pool = ThreadPoolExecutor(max_workers=workers, thread_name_prefix="seal-worker")

    @property
    def pids(self) -> list[int]:
        return [w.pid for w in self._workers]

    def submit(self, row: BundleRow) -> Future[RecordsObject]:
        return self._pool.submit(self._build, row.seq_first, row.seq_last)

    def _build(self, first: int, last: int) -> RecordsObject:
        worker = self._idle.get()
        try:
            return worker.build(self._source, first, last, self._how)
        finally:
            self._idle.put(worker)  # a dead one fails its next request at once

    def close(self) -> None:
        self._pool.shutdown(wait=True, cancel_futures=True)
        for worker in self._workers:
            worker.close()


def _reply_error(exc: BaseException) -> BaseException:
    """What a worker sends back for a failed build: our own errors as they are.

    Anything else is named by type only, so no record content reaches the parent's logs.
    """
    if not isinstance(exc, ChatkeeperError):
        return SealError(f"building a records object failed in a worker: {type(exc).__name__}")
    try:
        pickle.loads(pickle.dumps(exc, _PROTOCOL))  # noqa: S301 - our own bytes
    except Exception:
        return SealError(f"{type(exc).__name__} in a sealing worker: {exc}")
    return exc


def serve(requests: BinaryIO, replies: BinaryIO) -> None:
    """A worker's loop: build each requested records object until the input ends."""
    while True:
        try:
            source, first, last, how = pickle.load(requests)  # noqa: S301 - our parent
        except EOFError:
            return
        try:
            reply: tuple[bool, object] = (True, build_range(source, first, last, how))
        except Exception as exc:
            reply = (False, _reply_error(exc))
        pickle.dump(reply, replies, _PROTOCOL)
        replies.flush()


def _worker_main() -> None:
    # The pickles travel on the original stdout; anything printed goes to stderr.
    replies = os.fdopen(os.dup(1), "wb")
    os.dup2(2, 1)
    signal.signal(signal.SIGINT, signal.SIG_IGN)  # the parent decides; it closes our input
    serve(sys.stdin.buffer, replies)


def builder_for(source: RowSource, how: Compression, workers: int, bundles: int) -> Builder:
    """Worker processes when there is more than one bundle to build and more than one worker."""
    if workers > 1 and bundles > 1:
        return ProcessBuilder(source, how, workers)
    return ThreadBuilder(source, how)


if __name__ == "__main__":
    _worker_main()
