"""The sealed archive on S3 as a ``BundleSource`` and a ``BlobSource``.

Bundles come from ``archive.read.read_bundles``, which checks each manifest's
signature and chain link and each records object's hash, size and Merkle
root before yielding a record. Blobs are read from their original (locked)
version; the exporters check their SHA-256 while copying.
"""

from __future__ import annotations

from collections.abc import Iterator
from typing import BinaryIO

from archive.bundle import Layout
from archive.keys import PublicKey
from archive.read import read_bundles
from archive.store import ArchiveStore
from archive.verify import original_version
from exporters.source import BundleInfo, BundleRecords


class ArchiveBundleSource:
    """Verified bundles of one stream."""

    def __init__(self, store: ArchiveStore, layout: Layout, keys: dict[str, PublicKey]) -> None:
        self.store = store
        self.layout = layout
        self.keys = keys

    def read_bundles(
        self, first: int | None, last: int | None, allow_unverified: bool
    ) -> Iterator[BundleRecords]:
        for bundle, records in read_bundles(
            self.store,
            self.layout,
            self.keys,
            first=first or 1,
            last=last,
            allow_unverified=allow_unverified,
        ):
            spec = bundle.manifest.get("records", {})
            info = BundleInfo(
                number=bundle.number,
                manifest_sha256=bundle.manifest_sha256,
                records_sha256=spec.get("sha256") if isinstance(spec, dict) else None,
                record_count=bundle.manifest.get("record_count"),
                verified=bundle.verified,
                problem="; ".join(bundle.problems) or None,
            )
            yield BundleRecords(info, records)


class ArchiveBlobs:
    """Attachment blobs, content-addressed in the store."""

    def __init__(self, store: ArchiveStore, layout: Layout) -> None:
        self.store = store
        self.layout = layout

    def after_fork(self) -> None:
        """In a forked worker: drop the HTTP connections inherited from the parent."""
        client = getattr(self.store, "client", None)
        if client is not None:
            client.close()

    def open_blob(self, sha256: str) -> BinaryIO | None:
        key = self.layout.blob_key(sha256)
        version = original_version([v for v in self.store.versions(key) if v.key == key])
        if version is None:
            return None
        return self.store.open(key, version.version_id)
