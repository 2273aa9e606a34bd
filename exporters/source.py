"""What exporters read: verified bundles of records, and attachment blobs.

Exporters never touch the live journal. They read sealed bundles through a
``BundleSource`` (the composition root adapts the archive reader to it),
each bundle with what verification found, and attachment bytes through a
``BlobSource``. Both are small Protocols so the formats can be tested on
lists of records.
"""

from __future__ import annotations

import hashlib
from collections.abc import Callable, Iterable, Iterator
from dataclasses import dataclass
from typing import Any, BinaryIO, Protocol

from archive.errors import IntegrityError
from archive.hashing import CHUNK
from archive.model import Record


@dataclass(frozen=True, slots=True)
class BundleInfo:
    """A sealed bundle as read: its number, manifest hash and verification outcome."""

    number: int
    manifest_sha256: str
    records_sha256: str | None = None
    record_count: int | None = None
    verified: bool = True
    problem: str | None = None
    frames: tuple[int, ...] | None = None  # read in part: these frames of its records object


@dataclass(frozen=True, slots=True)
class BundleRecords:
    """One bundle's records, in seq order.

    A source that read the sealed lines also gives ``sealed``: the same records,
    each with its line exactly as sealed (``{"record":…,"seq":n}``), which the
    jsonl format writes as they are, and may give ``lines``: the sealed lines
    alone, not parsed, for a jsonl export that keeps every record of a verified
    bundle. A wrapper that selects records (a search) must not pass ``lines``
    on. Read one of the three, once.
    """

    info: BundleInfo
    records: Iterable[Record]
    sealed: Iterable[tuple[Record, bytes]] | None = None
    lines: Iterable[bytes] | None = None

    def with_lines(self) -> Iterable[tuple[Record, bytes | None]]:
        """The records, each with its sealed line (None when the source has none)."""
        if self.sealed is not None:
            return self.sealed
        return ((record, None) for record in self.records)


BundleSelect = Callable[[dict[str, Any]], bool | tuple[int, ...]]
"""Whether a bundle is wanted, from its manifest (``first_occurred_at``, ``conversations``...):
True, False, or only the frames of its records object named (``archive.frames``)."""


class BundleSource(Protocol):
    """Sealed bundles, verified against their manifests as they are read.

    Implementations raise ``archive.errors.IntegrityError`` for a bundle that
    fails verification unless ``allow_unverified`` is true, in which case the
    bundle is yielded with ``info.verified`` false and the problem named.
    """

    def read_bundles(
        self,
        first: int | None,
        last: int | None,
        allow_unverified: bool,
        select: BundleSelect | None = None,
    ) -> Iterator[BundleRecords]:
        """``select`` sees each verified manifest first; a bundle it declines has no records
        (its records object is not read), and one it wants in part has the records of the
        frames it named."""
        ...


class BlobSource(Protocol):
    """Attachment bytes by SHA-256; None when the blob is not in the store.

    A source holding network connections may also define ``after_fork()``,
    called first thing in each forked render worker.
    """

    def open_blob(self, sha256: str) -> BinaryIO | None: ...


class NoBlobs:
    """A blob source with nothing in it (attachments are listed, not copied)."""

    def open_blob(self, sha256: str) -> BinaryIO | None:
        return None


def copy_blob(source: BinaryIO, sha256: str, target: BinaryIO) -> int:
    """Copy an opened blob into ``target`` (and close it), checking its hash.

    Raises IntegrityError when the bytes do not match their address.
    """
    digest = hashlib.sha256()
    size = 0
    with source:
        while chunk := source.read(CHUNK):
            digest.update(chunk)
            target.write(chunk)
            size += len(chunk)
    if digest.hexdigest() != sha256:
        raise IntegrityError(f"attachment blob {sha256} does not match its SHA-256")
    return size
