"""Rendering conversations in forked worker processes.

Formats with one file per conversation (or per message) render each
conversation independently, so after the partition store is complete the
conversations are shared out, balanced by record count, to forked workers.
Each worker opens its own SQLite connection, lets the blob source drop
connections inherited from the parent (``after_fork``), writes its files and
logs each to the shared progress log (appends of one line are atomic). The
parent then adopts the logged files. Which process renders a file never
changes its bytes.
"""

from __future__ import annotations

import contextlib
import multiprocessing
import os
import traceback
from collections.abc import Callable, Sequence
from multiprocessing.queues import Queue
from pathlib import Path
from queue import Empty

from archive.errors import ChatkeeperError, RenderWorkerError
from exporters.render import RenderContext

Renderer = Callable[[RenderContext], None]


def default_workers() -> int:
    return max(1, min(os.cpu_count() or 1, 8))


def shares(counts: dict[int, int], workers: int) -> list[frozenset[int]]:
    """Conversation numbers split into ``workers`` groups of similar record counts."""
    loads = [0] * workers
    groups: list[set[int]] = [set() for _ in range(workers)]
    for number, count in sorted(counts.items(), key=lambda item: (-item[1], item[0])):
        lightest = loads.index(min(loads))
        groups[lightest].add(number)
        loads[lightest] += count
    return [frozenset(g) for g in groups if g]


def _work(context: RenderContext, renderer: Renderer, queue: Queue[tuple[str, int]]) -> None:
    try:
        context.store.reopen()
        context.out.in_worker()
        after_fork = getattr(context.blobs, "after_fork", None)
        if after_fork is not None:
            after_fork()
        renderer(context)
        context.out.flush_log()
        queue.put(("ok", context.out.skipped))
    except BaseException as exc:  # the parent reports it and the run stays resumable
        with contextlib.suppress(OSError):
            context.out.flush_log()  # what was written is kept on the re-run
        queue.put((summary(exc), 0))


def summary(exc: BaseException) -> str:
    """One line naming the failure and where it was raised.

    Only chatkeeper's own errors and OS errors keep their message (written to
    name settings, ids and paths); any other exception is named by type and
    place, so no record content can reach the terminal.
    """
    frames = traceback.extract_tb(exc.__traceback__)
    where = f" at {Path(frames[-1].filename).name}:{frames[-1].lineno}" if frames else ""
    if isinstance(exc, ChatkeeperError | OSError):
        return f"{type(exc).__name__}{where}: {exc}"
    return f"{type(exc).__name__}{where}"


def _collect(
    queue: Queue[tuple[str, int]], processes: Sequence[multiprocessing.process.BaseProcess]
) -> list[tuple[str, int]]:
    """Every worker's outcome; a worker that died without one (killed) counts as failed."""
    outcomes: list[tuple[str, int]] = []
    while len(outcomes) < len(processes):
        try:
            outcomes.append(queue.get(timeout=1.0))
        except Empty:
            if all(not p.is_alive() for p in processes) and queue.empty():
                codes = ", ".join(str(p.exitcode) for p in processes)
                outcomes += [(f"a worker died (exit codes {codes})", 0)] * (
                    len(processes) - len(outcomes)
                )
    return outcomes


def render_in_workers(context: RenderContext, renderer: Renderer, workers: int) -> None:
    """Render ``context`` with up to ``workers`` processes (in this one when 1)."""
    groups = shares(context.store.record_counts(), workers) if workers > 1 else []
    if len(groups) < 2:
        renderer(context)
        return
    context.out.index.commit()  # the workers open the index themselves
    context.out.flush_log()  # a worker starts with nothing of the parent's left to log
    fork = multiprocessing.get_context("fork")
    queue: Queue[tuple[str, int]] = fork.Queue()
    processes = [
        fork.Process(target=_work, args=(context.share(group), renderer, queue), daemon=True)
        for group in groups
    ]
    for process in processes:
        process.start()
    outcomes = _collect(queue, processes)
    for process in processes:
        process.join()
    context.out.adopt_logged()
    failures = [status for status, _ in outcomes if status != "ok"]
    if failures:
        raise RenderWorkerError(
            f"a render worker failed ({failures[0]}); run the export again to resume"
        )
    context.out.skipped += sum(skipped for _, skipped in outcomes)
