"""Export search results: only the matching records, from verified bundles, via the exporters.

The composition root holds this wiring so that ``search/`` never imports
``exporters/``. ``MatchingRecords`` is a ``BundleSource`` that reads just the
bundles holding a hit (verified on read like any export), checks each
manifest hash against the one the index recorded, and yields only the
records whose keys matched. The custody manifest's request gains a
``search`` object with the query, the index backend and the matched keys'
count and digest, so the export says it was a search result.
"""

from __future__ import annotations

import hashlib
from collections.abc import Iterator
from typing import Any

from archive.errors import IntegrityError
from archive.read import consecutive_runs
from exporters.source import BundleRecords, BundleSelect, BundleSource
from search.port import Hit, IndexedBundle


class MatchingRecords:
    """The bundles that hold hits, each narrowed to the hits' records."""

    def __init__(self, archive: BundleSource, hits: list[Hit], held: list[IndexedBundle]) -> None:
        self.archive = archive
        self.keys: dict[int, set[str]] = {}
        for hit in hits:
            self.keys.setdefault(hit.bundle, set()).add(hit.key)
        self.manifests = {b.number: b.manifest_sha256 for b in held}

    def read_bundles(
        self,
        first: int | None,
        last: int | None,
        allow_unverified: bool,
        select: BundleSelect | None = None,
    ) -> Iterator[BundleRecords]:
        for low, high in consecutive_runs(self.keys):
            for bundle in self.archive.read_bundles(low, high, allow_unverified, select):
                number = bundle.info.number
                wanted = self.keys.get(number, set())
                if not wanted:
                    continue
                indexed = self.manifests.get(number)
                if indexed is not None and indexed != bundle.info.manifest_sha256:
                    raise IntegrityError(
                        f"bundle {number} in the store is not the bundle the search index holds "
                        f"(manifest sha256 {bundle.info.manifest_sha256}, indexed {indexed}): "
                        "run chatkeeper index --rebuild"
                    )
                yield BundleRecords(
                    bundle.info,
                    (r for r in bundle.records if r.key in wanted),
                    None
                    if bundle.sealed is None
                    else ((r, line) for r, line in bundle.sealed if r.key in wanted),
                )


def search_description(query: str, backend: str, hits: list[Hit]) -> dict[str, Any]:
    """What the custody manifest records about the search."""
    keys = sorted(h.key for h in hits)
    return {
        "query": query,
        "index": backend,
        "matched_records": len(keys),
        "matched_keys_sha256": hashlib.sha256("\n".join(keys).encode()).hexdigest(),
        "bundles": sorted({h.bundle for h in hits}),
    }
