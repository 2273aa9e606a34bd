"""Bring an index up to date with the sealed stream, reading verified bundles only.

Bundles are read through ``archive.read.read_bundles`` (signature, chain
link, records hash, size and Merkle root checked before a record is
yielded). Only bundles the index does not hold are read (normally the new
tail, plus any refused earlier), so the cost of an update is proportional to
what is new. A bundle that fails verification is not indexed; it is recorded
as refused and reported, and retried next time.

With ``workers`` > 1 the bundles to read are split into that many contiguous
ranges, each read, verified, decoded and tokenized in a forked process; the
parent writes each bundle to the index as it arrives (one transaction per
bundle, so any order is safe: what is not held is read again next time).
"""

from __future__ import annotations

import multiprocessing
import queue
from collections.abc import Callable, Iterator
from dataclasses import dataclass, field
from typing import Any

import structlog

from archive.bundle import Layout
from archive.errors import SearchIndexError
from archive.keys import PublicKey
from archive.read import bundle_numbers, consecutive_runs, read_bundles
from archive.store import ArchiveStore
from search.document import SearchDocument, document_for
from search.port import IndexedBundle, RefusedBundle, SearchIndex

log = structlog.get_logger("chatkeeper.search")
Outcome = tuple[IndexedBundle, list[SearchDocument]] | RefusedBundle
_QUEUE_PER_WORKER = 2  # bundles waiting per worker: bounds the parent's memory


@dataclass
class IndexReport:
    """What one update did."""

    indexed: list[IndexedBundle] = field(default_factory=list)
    refused: list[RefusedBundle] = field(default_factory=list)

    @property
    def records(self) -> int:
        return sum(b.records for b in self.indexed)


def update_index(
    index: SearchIndex,
    store: ArchiveStore,
    layout: Layout,
    keys: dict[str, PublicKey],
    *,
    rebuild: bool = False,
    progress: Callable[[int], None] | None = None,
    workers: int = 1,
) -> IndexReport:
    """Index every verified bundle the index does not hold yet (all of them with ``rebuild``)."""
    if rebuild:
        index.reset()
    held = {b.number for b in index.held()}
    missing = [n for n in bundle_numbers(store, layout) if n not in held]
    report = IndexReport()
    if workers > 1 and len(missing) > 1:
        outcomes = _parallel(store, layout, keys, missing, workers)
    else:
        outcomes = _read(store, layout, keys, consecutive_runs(missing))
    for outcome in outcomes:
        if isinstance(outcome, RefusedBundle):
            index.refuse_bundle(outcome)
            report.refused.append(outcome)
            log.warning("search.bundle_refused", bundle=outcome.number)
            continue
        info, docs = outcome
        if index.add_bundle(info, docs):
            report.indexed.append(info)
            if progress is not None:
                progress(info.records)
    if report.indexed:
        log.info("search.indexed", bundles=len(report.indexed), records=report.records)
    return report


def _read(
    store: ArchiveStore, layout: Layout, keys: dict[str, PublicKey], runs: list[tuple[int, int]]
) -> Iterator[Outcome]:
    for first, last in runs:
        for bundle, records in read_bundles(
            store, layout, keys, first=first, last=last, allow_unverified=True
        ):
            if not bundle.verified:
                yield RefusedBundle(bundle.number, "; ".join(bundle.problems))
                continue
            number = bundle.number
            count = int(bundle.manifest.get("record_count") or 0)
            docs = [document_for(r, number) for r in records]
            yield IndexedBundle(number, bundle.manifest_sha256, count), docs


def _work(
    store: ArchiveStore,
    layout: Layout,
    keys: dict[str, PublicKey],
    runs: list[tuple[int, int]],
    results: Any,
) -> None:
    """In a forked worker: read its ranges and send each bundle's outcome to the parent."""
    client = getattr(store, "client", None)
    if client is not None:  # connections inherited from the parent must not be shared
        client.close()
    try:
        for outcome in _read(store, layout, keys, runs):
            results.put(("bundle", outcome))
        results.put(("done", None))
    except BaseException as exc:
        results.put(("error", exc))


def _parallel(
    store: ArchiveStore,
    layout: Layout,
    keys: dict[str, PublicKey],
    missing: list[int],
    workers: int,
) -> Iterator[Outcome]:
    workers = min(workers, len(missing))
    size = -(-len(missing) // workers)
    slices = [consecutive_runs(missing[i : i + size]) for i in range(0, len(missing), size)]
    context = multiprocessing.get_context("fork")
    results = context.Queue(maxsize=_QUEUE_PER_WORKER * len(slices))
    processes = [
        context.Process(target=_work, args=(store, layout, keys, runs, results), daemon=True)
        for runs in slices
    ]
    for process in processes:
        process.start()
    try:
        running = len(processes)
        while running:
            try:
                kind, value = results.get(timeout=1.0)
            except queue.Empty:
                if any(p.exitcode not in (None, 0) for p in processes):
                    raise SearchIndexError("a search indexing worker died") from None
                continue
            if kind == "bundle":
                yield value
            elif kind == "done":
                running -= 1
            else:
                raise value
    finally:
        for process in processes:
            if process.is_alive():
                process.terminate()
            process.join()
