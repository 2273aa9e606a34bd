"""One export, start to finish: read verified bundles, spill, render, write custody.

``run_export`` is the single entry point the CLI calls. It reads bundles from
a ``BundleSource`` (which refuses tampered bundles unless ``allow_unverified``),
filters records on the way in, and either streams them straight to jsonl or
spills them into a ``PartitionStore`` in a temporary directory and hands it
to the format's renderer. The custody manifest is written last.
"""

from __future__ import annotations

import tempfile
from collections.abc import Callable, Iterator, Mapping
from dataclasses import dataclass, field
from datetime import datetime
from pathlib import Path
from typing import Any

from archive.codec import encode_body, sealed_line
from archive.model import Record
from exporters.csv_export import export_csv
from exporters.custody import Custody, write_manifest
from exporters.eml import export_eml
from exporters.file_index import FileEntry
from exporters.filters import Filters
from exporters.html import export_html
from exporters.manifest_io import iter_manifest_files
from exporters.output import OutputDir
from exporters.partition import DAY_SECONDS, PartitionStore
from exporters.render import RenderContext
from exporters.rsmf import export_rsmf
from exporters.slack_export import export_slack
from exporters.source import BlobSource, BundleInfo, BundleSource
from exporters.workers import render_in_workers

JSONL_NAME = "records.jsonl"
_RENDERERS: dict[str, Callable[[RenderContext], None]] = {
    "rsmf": export_rsmf,
    "eml": export_eml,
    "html": export_html,
    "slack": export_slack,
    "csv": export_csv,
}
FORMATS = ("rsmf", "eml", "html", "slack", "jsonl", "csv")
_PER_CONVERSATION = frozenset({"rsmf", "eml", "html"})


@dataclass(frozen=True, slots=True)
class ExportRequest:
    """What the officer asked for."""

    format: str
    filters: Filters = field(default_factory=Filters)
    slice_seconds: int = DAY_SECONDS
    allow_unverified: bool = False
    search: Mapping[str, Any] | None = None  # the search whose results are exported

    def __post_init__(self) -> None:
        if self.format not in FORMATS:
            raise ValueError(f"unknown export format {self.format!r}")
        if self.format != "rsmf" and self.slice_seconds != DAY_SECONDS:
            raise ValueError("--slice applies to the rsmf format only")

    def describe(self) -> dict[str, Any]:
        described = {
            "format": self.format,
            "filters": self.filters.describe(),
            "slice_seconds": self.slice_seconds,
            "allow_unverified": self.allow_unverified,
        }
        if self.search is not None:
            described["search"] = dict(self.search)
        return described


@dataclass(frozen=True, slots=True)
class ExportResult:
    manifest: Path
    file_count: int
    skipped: int
    bundles: tuple[BundleInfo, ...]
    records_read: int

    @property
    def files(self) -> tuple[FileEntry, ...]:
        """Every file produced, read back from the custody manifest (small exports, tests)."""
        return tuple(iter_manifest_files(self.manifest))


Progress = Callable[[int], None]


def run_export(
    source: BundleSource,
    blobs: BlobSource,
    request: ExportRequest,
    out_dir: Path,
    *,
    generator: str,
    tool_version: str,
    operator: str,
    now: Callable[[], datetime],
    progress: Progress | None = None,
    temp_dir: Path | None = None,
    workers: int = 1,
) -> ExportResult:
    """Export what ``request`` selects into ``out_dir`` and write its custody manifest.

    rsmf, eml and html render conversations in up to ``workers`` forked processes.
    """
    description = request.describe()
    out = OutputDir(out_dir, description)
    bundles: list[BundleInfo] = []
    try:
        if request.format == "jsonl":
            read = _export_jsonl(source, request, out, bundles, progress)
        else:
            with tempfile.TemporaryDirectory(prefix="chatkeeper-export-", dir=temp_dir) as scratch:
                store = PartitionStore(Path(scratch), request.slice_seconds)
                try:
                    read = _spill(source, request, store, bundles, progress)
                    store.finish()
                    context = RenderContext(
                        store, out, request.filters, tuple(bundles), blobs, generator
                    )
                    renderer = _RENDERERS[request.format]
                    if request.format in _PER_CONVERSATION:
                        render_in_workers(context, renderer, workers)
                    else:
                        renderer(context)
                finally:
                    store.close()
    except BaseException:
        out.abort()
        raise
    try:
        out.finish()
        manifest = write_manifest(
            out_dir,
            request=description,
            request_sha256=out.fingerprint,
            bundles=bundles,
            files=out.files(),
            custody=Custody(tool_version, operator, now()),
            records_read=read,
        )
        count = out.index.count()
    finally:
        out.close()
    return ExportResult(manifest, count, out.skipped, tuple(bundles), read)


def _records(
    source: BundleSource,
    request: ExportRequest,
    bundles: list[BundleInfo],
    progress: Progress | None,
) -> Iterator[tuple[Record, BundleInfo]]:
    filters = request.filters
    for bundle in source.read_bundles(
        filters.first_bundle, filters.last_bundle, request.allow_unverified
    ):
        bundles.append(bundle.info)
        count = 0
        for record in bundle.records:
            count += 1
            if count == 1000:
                if progress is not None:
                    progress(count)
                count = 0
            yield record, bundle.info
        if progress is not None and count:
            progress(count)


def _spill(
    source: BundleSource,
    request: ExportRequest,
    store: PartitionStore,
    bundles: list[BundleInfo],
    progress: Progress | None,
) -> int:
    read = 0
    keep = request.filters.keep_record
    for record, info in _records(source, request, bundles, progress):
        read += 1
        if keep(record):
            store.add(record, info.number, info.verified)
    return read


def _export_jsonl(
    source: BundleSource,
    request: ExportRequest,
    out: OutputDir,
    bundles: list[BundleInfo],
    progress: Progress | None,
) -> int:
    """One line per record: ``{"bundle":n,"record":{…},"seq":n,"verified":b}``.

    The ``record`` value is the record's canonical body, so its hash can be
    checked against the bundle's Merkle tree.
    """
    read = 0
    keep = request.filters.keep_record_fully
    records = _records(source, request, bundles, progress)
    if out.done(JSONL_NAME):
        for _ in records:
            read += 1
        return read
    with out.create(JSONL_NAME) as handle:
        for record, info in records:
            read += 1
            if not keep(record):
                continue
            line = sealed_line(record.seq or 0, encode_body(record))
            verified = b"true" if info.verified else b"false"
            handle.write(
                b'{"bundle":'
                + str(info.number).encode()
                + b","
                + line[1:-1]
                + b',"verified":'
                + verified
                + b"}\n"
            )
    return read
