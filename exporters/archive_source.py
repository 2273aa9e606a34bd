"""The sealed archive on S3 as a ``BundleSource`` and a ``BlobSource``.

Before anything is read, the whole stream goes through the stream-level checks
of ``chatkeeper verify`` (``check_stream``: numbering and gaps, extra object
versions and delete markers, unexpected objects, manifests, chain, signatures
and locks). Bundles then come from ``archive.read.read_bundle_lines``, which checks
each manifest's signature and chain link and each records object's hash, size
and Merkle root (decompressing it once) before yielding a line; each line is
parsed once, and handed on with its record for the jsonl format. Any stream finding refuses the read
unless ``allow_unverified``, and then marks every bundle read unverified: what
was read comes from a stream that failed verification. Blobs are read from
their original (locked) version; the exporters check their SHA-256 while copying.
"""

from __future__ import annotations

from collections.abc import Iterator, Sequence
from typing import BinaryIO

from archive.bundle import Layout
from archive.codec import decode_line
from archive.errors import IntegrityError
from archive.keys import PublicKey
from archive.read import bundle_numbers, read_bundle_lines
from archive.store import ArchiveStore
from archive.verify import Finding, VerifyReport, original_version, verify_stream
from exporters.source import BundleInfo, BundleRecords, BundleSelect


def check_stream(
    store: ArchiveStore,
    layout: Layout,
    keys: dict[str, PublicKey],
    *,
    expected_last: int | None = None,
) -> VerifyReport:
    """The stream-level checks of ``verify``; records objects are checked later, on read."""
    return verify_stream(store, layout, keys, expected_last=expected_last, check_records=False)


def checked_source(
    store: ArchiveStore,
    layout: Layout,
    keys: dict[str, PublicKey],
    *,
    expected_last: int | None = None,
) -> ArchiveBundleSource:
    """The stream checked first (``check_stream``), then its bundles as a verified source.

    The one way every export path (the CLI, search results, the console) reads the archive:
    a stream with findings refuses to be read unless the export allows unverified bundles,
    and bundles whose records a sealed certificate disposed of are skipped, not refused.
    """
    report = check_stream(store, layout, keys, expected_last=expected_last)
    disposed = frozenset(d["bundle"] for d in report.disposed if d["version_id"])
    return ArchiveBundleSource(store, layout, keys, report.findings, disposed)


def describe_finding(finding: Finding) -> str:
    """One line naming where and what, as ``chatkeeper verify`` prints it."""
    where = f"bundle {finding.bundle}" if finding.bundle is not None else "stream"
    return f"{where} [{finding.check}] {finding.message}"


class ArchiveBundleSource:
    """Verified bundles of one stream, given what the stream check found."""

    def __init__(
        self,
        store: ArchiveStore,
        layout: Layout,
        keys: dict[str, PublicKey],
        stream_findings: Sequence[Finding] = (),
        disposed: frozenset[int] = frozenset(),
    ) -> None:
        self.store = store
        self.layout = layout
        self.keys = keys
        self.stream_findings = tuple(stream_findings)
        self.disposed = disposed  # bundles whose records a certificate disposed of

    def bundle_numbers(self, first: int | None, last: int | None) -> list[int]:
        """The numbers of the bundles ``read_bundles(first, last, ...)`` would read."""
        return bundle_numbers(self.store, self.layout, first=first or 1, last=last)

    def after_fork(self) -> None:
        """In a forked worker: drop the HTTP connections inherited from the parent."""
        self.store.after_fork()

    @property
    def stream_problems(self) -> tuple[str, ...]:
        """The stream check's findings, one line each (for the custody manifest)."""
        return tuple(describe_finding(f) for f in self.stream_findings)

    def read_bundles(
        self,
        first: int | None,
        last: int | None,
        allow_unverified: bool,
        select: BundleSelect | None = None,
    ) -> Iterator[BundleRecords]:
        if self.stream_findings and not allow_unverified:
            raise IntegrityError(
                f"the stream failed verification: {'; '.join(self.stream_problems)}"
            )
        for bundle, lines in read_bundle_lines(
            self.store,
            self.layout,
            self.keys,
            first=first or 1,
            last=last,
            allow_unverified=allow_unverified,
            select=select,
            disposed=self.disposed,
        ):
            spec = bundle.manifest.get("records", {})
            problems = list(bundle.problems)
            problems += [f.message for f in self.stream_findings if f.bundle == bundle.number]
            if self.stream_findings and not problems:
                problems.append("read from a stream that failed verification")
            info = BundleInfo(
                number=bundle.number,
                manifest_sha256=bundle.manifest_sha256,
                records_sha256=spec.get("sha256") if isinstance(spec, dict) else None,
                record_count=bundle.manifest.get("record_count"),
                verified=not problems,
                problem="; ".join(dict.fromkeys(problems)) or None,
                frames=bundle.frames,
            )
            yield BundleRecords(
                info,
                map(decode_line, lines),
                ((decode_line(line), line) for line in lines),
                lines,
            )


class ArchiveBlobs:
    """Attachment blobs, content-addressed in the store."""

    def __init__(self, store: ArchiveStore, layout: Layout) -> None:
        self.store = store
        self.layout = layout

    def after_fork(self) -> None:
        """In a forked worker: drop the HTTP connections inherited from the parent."""
        self.store.after_fork()

    def open_blob(self, sha256: str) -> BinaryIO | None:
        key = self.layout.blob_key(sha256)
        version = original_version([v for v in self.store.versions(key) if v.key == key])
        if version is None:
            return None
        return self.store.open(key, version.version_id)
