"""Spilling an export's records into its partition store, in one process or several.

The folding formats (rsmf, eml, html, slack, csv) first spill every record the
filters keep into a ``PartitionStore``. Reading a bundle (fetch, hash,
decompress, Merkle root) and spilling its records cost about as much as each
other, and both are per record work in Python, so with ``workers`` > 1 and a
source that can list its bundles (``bundle_numbers``), the bundles are split
into that many contiguous ranges and each range is read, verified and spilled
in a forked process into a store of its own (a *shard*). The parent adopts the
shards in bundle order, so conversation names, actor names and the records'
order come out exactly as one process reading every bundle in turn would make
them. Each range is read through the same ``read_bundles`` of the same source,
so every check runs as it would in one process, the chain link into a range's
first bundle included.
"""

from __future__ import annotations

import itertools
import multiprocessing
import queue
import shutil
import tempfile
from collections.abc import Callable, Iterable, Iterator
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any, TypeVar

from archive.codec import line_fields
from archive.errors import IntegrityError, RenderWorkerError
from archive.model import Kind
from exporters.filters import Filters
from exporters.partition import PartitionStore, ShardState
from exporters.source import BundleInfo, BundleRecords, BundleSelect, BundleSource
from exporters.workers import summary

Progress = Callable[[int], None]
_MESSAGE = Kind.MESSAGE.value
_PROGRESS_EVERY = 1000
_T = TypeVar("_T")


@dataclass(slots=True)
class Spilled:
    """What spilling a run of bundles read: the bundles (in order), the records read and,
    when proofs are asked for, the exported messages' keys by bundle."""

    bundles: list[BundleInfo] = field(default_factory=list)
    read: int = 0
    wanted: dict[int, set[str]] = field(default_factory=dict)


def spill(
    source: BundleSource,
    filters: Filters,
    store: PartitionStore,
    *,
    allow_unverified: bool,
    proofs: bool,
    progress: Progress | None,
    workers: int,
) -> Spilled:
    """Spill the records ``filters`` keep from the bundles they select into ``store``.

    The formats that spill fold an in-range message's later history into it, so a bundle
    after ``--to`` is read when its ``refers_back`` reaches the range (``whole_range=False``).
    """
    ranges = _ranges(source, filters, workers)
    if len(ranges) < 2:
        first, last = filters.first_bundle, filters.last_bundle
        bundles = source.read_bundles(
            first, last, allow_unverified, bundle_select(filters, whole_range=False)
        )
        return spill_bundles(bundles, filters, store, proofs, progress)
    return _in_workers(source, filters, store, ranges, allow_unverified, proofs, progress)


def bundle_select(filters: Filters, whole_range: bool) -> BundleSelect:
    """``filters.keep_bundle`` as the ``select`` a ``BundleSource`` takes."""

    def select(manifest: dict[str, Any]) -> bool | tuple[int, ...]:
        return filters.keep_bundle(manifest, whole_range=whole_range)

    return select


def counted(items: Iterable[_T], progress: Progress | None) -> Iterator[_T]:
    """``items`` passed through, reported to ``progress`` a thousand at a time."""
    if progress is None:
        yield from items
        return
    count = 0
    for item in items:
        count += 1
        if count == _PROGRESS_EVERY:
            progress(count)
            count = 0
        yield item
    if count:
        progress(count)


def spill_bundles(
    bundles: Iterator[BundleRecords],
    filters: Filters,
    store: PartitionStore,
    proofs: bool,
    progress: Progress | None,
) -> Spilled:
    """Spill ``bundles`` in this process.

    A bundle whose source gives its sealed lines is spilled from each line's JSON
    object, with no record built (the store keeps its values; the render worker
    builds the record); any other bundle from its records.
    """
    spilled = Spilled()
    keep, keep_fields = filters.keep_record, filters.keep_fields
    for bundle in bundles:
        info = bundle.info
        spilled.bundles.append(info)
        number, verified = info.number, info.verified
        wanted: set[str] = set()
        read = 0
        if bundle.lines is not None:
            for line in counted(bundle.lines, progress):
                read += 1
                data, seq = line_fields(line)
                if keep_fields(data):
                    store.add_fields(data, seq, number, verified)
                    if proofs and data["kind"] == _MESSAGE:
                        wanted.add(data["key"])
        else:
            for record in counted(bundle.records, progress):
                read += 1
                if keep(record):
                    store.add(record, number, verified)
                    if proofs and record.kind is Kind.MESSAGE:
                        wanted.add(record.key)
        spilled.read += read
        if wanted:
            spilled.wanted[number] = wanted
    return spilled


def _ranges(source: BundleSource, filters: Filters, workers: int) -> list[tuple[int, int | None]]:
    """Up to ``workers`` contiguous ranges of the bundles to read; none when the source
    cannot list its bundles or there is nothing to share.

    A range starts only right after a bundle that exists, so a gap in the numbering is
    reported by the range reading across it, as one process reading every bundle would.
    """
    listing = getattr(source, "bundle_numbers", None)
    if workers < 2 or listing is None:
        return []
    numbers: list[int] = listing(filters.first_bundle, filters.last_bundle)
    count = min(workers, len(numbers))
    cuts: list[int] = []
    for k in range(1, count):
        ideal = k * len(numbers) // count
        cut = next(
            (i for i in range(max(ideal, 1), len(numbers)) if numbers[i] == numbers[i - 1] + 1),
            None,
        )
        if cut is not None and (not cuts or cut > cuts[-1]):
            cuts.append(cut)
    if not cuts:
        return []
    bounds = [0, *cuts, len(numbers)]
    ranges: list[tuple[int, int | None]] = [
        (numbers[a], numbers[b - 1]) for a, b in itertools.pairwise(bounds)
    ]
    ranges[0] = (filters.first_bundle or 1, ranges[0][1])
    ranges[-1] = (ranges[-1][0], filters.last_bundle)  # to the end, as one process reads
    return ranges


def _work(
    source: BundleSource,
    filters: Filters,
    span: tuple[int, int | None],
    shard: Path,
    slice_seconds: int,
    options: tuple[bool, bool],
    index: int,
    results: Any,
) -> None:
    """In a forked worker: read, verify and spill one range of bundles into a shard."""
    allow_unverified, proofs = options
    try:
        after_fork = getattr(source, "after_fork", None)
        if after_fork is not None:
            after_fork()
        store = PartitionStore(shard, slice_seconds)
        bundles = source.read_bundles(
            span[0], span[1], allow_unverified, bundle_select(filters, whole_range=False)
        )
        spilled = spill_bundles(
            bundles, filters, store, proofs, lambda n: results.put(("progress", index, n))
        )
        state = store.shard_state()
        store.close()
        results.put(("done", index, (spilled, state)))
    except IntegrityError as exc:  # names bundles and checks only, as the CLI prints it
        results.put(("integrity", index, str(exc)))
    except BaseException as exc:
        results.put(("error", index, summary(exc)))


def _in_workers(
    source: BundleSource,
    filters: Filters,
    store: PartitionStore,
    ranges: list[tuple[int, int | None]],
    allow_unverified: bool,
    proofs: bool,
    progress: Progress | None,
) -> Spilled:
    context = multiprocessing.get_context("fork")
    results: Any = context.Queue()
    scratch = Path(tempfile.mkdtemp(prefix="shards-", dir=store.path.parent))
    shards = [scratch / str(index) for index in range(len(ranges))]
    for shard in shards:
        shard.mkdir()
    options = (allow_unverified, proofs)
    processes = [
        context.Process(
            target=_work,
            args=(source, filters, span, shard, store.slice_seconds, options, index, results),
            daemon=True,
        )
        for index, (span, shard) in enumerate(zip(ranges, shards, strict=True))
    ]
    for process in processes:
        process.start()
    finished: dict[int, tuple[Spilled, ShardState]] = {}
    total = Spilled()
    try:
        while len(finished) < len(processes):
            try:
                kind, index, value = results.get(timeout=1.0)
            except queue.Empty:
                if any(p.exitcode not in (None, 0) for p in processes):
                    codes = ", ".join(str(p.exitcode) for p in processes)
                    raise RenderWorkerError(
                        f"an export worker died (exit codes {codes}); run the export again"
                    ) from None
                continue
            if kind == "progress":
                if progress is not None:
                    progress(value)
            elif kind == "done":
                finished[index] = value
            elif kind == "integrity":
                raise IntegrityError(value)
            else:
                raise RenderWorkerError(f"an export worker failed ({value}); run it again")
        for index, shard in enumerate(shards):  # in bundle order
            spilled, state = finished[index]
            store.adopt(shard, state)
            total.bundles += spilled.bundles
            total.read += spilled.read
            total.wanted.update(spilled.wanted)
    finally:
        for process in processes:
            if process.is_alive():
                process.terminate()
            process.join()
        shutil.rmtree(scratch, ignore_errors=True)
    return total
