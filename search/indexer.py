"""Bring an index up to date with the sealed stream, reading verified bundles only.

Bundles are read through ``archive.read.read_bundles`` (signature, chain
link, records hash, size and Merkle root checked before a record is
yielded). Only bundles the index does not hold are read: everything after
the highest bundle held, plus any bundle refused earlier, so the cost of an
update is proportional to what is new. A bundle that fails verification is
not indexed; it is recorded as refused and reported, and retried next time.
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass, field

import structlog

from archive.bundle import Layout
from archive.keys import PublicKey
from archive.read import read_bundles
from archive.store import ArchiveStore
from search.document import document_for
from search.port import IndexedBundle, RefusedBundle, SearchIndex

log = structlog.get_logger("chatkeeper.search")


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
) -> IndexReport:
    """Index every verified bundle the index does not hold yet (all of them with ``rebuild``)."""
    if rebuild:
        index.reset()
    held = {b.number for b in index.held()}
    start = max(held, default=0) + 1
    ranges: list[tuple[int, int | None]] = [
        (r.number, r.number) for r in index.refused() if r.number < start
    ]
    ranges.append((start, None))
    report = IndexReport()
    for first, last in ranges:
        for bundle, records in read_bundles(
            store, layout, keys, first=first, last=last, allow_unverified=True
        ):
            if bundle.number in held:
                continue
            if not bundle.verified:
                refused = RefusedBundle(bundle.number, "; ".join(bundle.problems))
                index.refuse_bundle(refused)
                report.refused.append(refused)
                log.warning("search.bundle_refused", bundle=bundle.number)
                continue
            number = bundle.number
            count = int(bundle.manifest.get("record_count") or 0)
            info = IndexedBundle(number, bundle.manifest_sha256, count)
            if index.add_bundle(info, (document_for(r, number) for r in records)):
                report.indexed.append(info)
                held.add(number)
                if progress is not None:
                    progress(count)
    if report.indexed:
        log.info("search.indexed", bundles=len(report.indexed), records=report.records)
    return report
