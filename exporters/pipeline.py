"""One export, start to finish: read verified bundles, spill, render, write custody.

``run_export`` is the single entry point the CLI calls. It reads bundles from
a ``BundleSource`` (which refuses tampered bundles unless ``allow_unverified``),
filters records on the way in, and either streams them straight to jsonl or
spills them into a ``PartitionStore`` in a temporary directory and hands it
to the format's renderer. With ``proofs``, one ``chatkeeper-proof/1`` file per
exported message is written under ``proofs/`` and the custody manifest maps each
record key to its file. The custody manifest is written last, with what the
stream-level checks found (``stream_problems``), and signed.
"""

from __future__ import annotations

import tempfile
from collections.abc import Callable, Iterator, Mapping, Sequence
from dataclasses import dataclass, field
from datetime import datetime
from pathlib import Path
from typing import Any

from archive.codec import line_kind_and_key
from archive.errors import IntegrityError
from archive.keys import Signer
from archive.model import Kind, Record
from exporters.custody import Custody, write_manifest
from exporters.custody_signature import sign_custody
from exporters.file_index import FileEntry
from exporters.filters import Filters
from exporters.formats.csv_export import export_csv
from exporters.formats.eml import export_eml
from exporters.formats.html import export_html
from exporters.formats.jsonl import Read, export_jsonl
from exporters.formats.rsmf import export_rsmf
from exporters.formats.slack_export import export_slack
from exporters.manifest_io import iter_manifest_files
from exporters.output import OutputDir
from exporters.partition import DAY_SECONDS, PartitionStore
from exporters.render import RenderContext
from exporters.source import BlobSource, BundleInfo, BundleRecords, BundleSource
from exporters.spill import Progress, bundle_select, counted, spill
from exporters.workers import render_in_workers

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
    signature: Path
    signed_by: str
    stream_problems: tuple[str, ...] = ()

    @property
    def verified(self) -> bool:
        """Whether every bundle read and the stream as a whole passed verification."""
        return not self.stream_problems and all(b.verified for b in self.bundles)

    @property
    def files(self) -> tuple[FileEntry, ...]:
        """Every file produced, read back from the custody manifest (small exports, tests)."""
        return tuple(iter_manifest_files(self.manifest))


ProofSource = Callable[[Mapping[int, set[str]]], Iterator[tuple[str, bytes]]]
"""Given {bundle: record keys}, yields (record key, proof file bytes)."""
PROOFS_DIR = "proofs"
_MESSAGE = Kind.MESSAGE.value


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
    signer: Signer,
    stream_problems: Sequence[str] = (),
    progress: Progress | None = None,
    temp_dir: Path | None = None,
    workers: int = 1,
    proofs: ProofSource | None = None,
) -> ExportResult:
    """Export what ``request`` selects into ``out_dir``; write and sign its custody manifest.

    ``stream_problems`` are the stream-level findings (one line each): any of them
    refuses the export unless ``request.allow_unverified``, and then marks it.
    The folding formats read and spill bundles in up to ``workers`` forked processes
    (``exporters.spill``), and rsmf, eml and html render conversations in as many.
    """
    problems = tuple(stream_problems)
    if problems and not request.allow_unverified:
        raise IntegrityError(f"the stream failed verification: {'; '.join(problems)}")
    description = request.describe()
    out = OutputDir(out_dir, description)
    bundles: list[BundleInfo] = []
    wanted: dict[int, set[str]] = {}
    try:
        if request.format == "jsonl":
            keep = request.filters.keep_record_fully
            read = export_jsonl(
                _jsonl_reads(
                    source, request, bundles, progress, None if proofs is None else wanted
                ),
                out,
                keep,
                request.filters.describe(),
                bundles,
            )
        else:
            with tempfile.TemporaryDirectory(prefix="chatkeeper-export-", dir=temp_dir) as scratch:
                store = PartitionStore(Path(scratch), request.slice_seconds)
                try:
                    spilled = spill(
                        source,
                        request.filters,
                        store,
                        allow_unverified=request.allow_unverified,
                        proofs=proofs is not None,
                        progress=progress,
                        workers=workers,
                    )
                    bundles += spilled.bundles
                    wanted.update(spilled.wanted)
                    read = spilled.read
                    store.finish()
                    context = RenderContext(
                        store,
                        out,
                        request.filters,
                        tuple(bundles),
                        blobs,
                        generator,
                        stream_problems=problems,
                    )
                    renderer = _RENDERERS[request.format]
                    if request.format in _PER_CONVERSATION:
                        render_in_workers(context, renderer, workers)
                    else:
                        renderer(context)
                finally:
                    store.close()
        proof_files = _write_proofs(out, proofs, wanted) if proofs is not None else None
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
            stream_problems=problems,
            extra=None if proof_files is None else {"proofs": proof_files},
        )
        signature = sign_custody(out_dir, signer)
        count = out.index.count()
    finally:
        out.close()
    return ExportResult(
        manifest,
        count,
        out.skipped,
        tuple(bundles),
        read,
        signature,
        signer.public.key_id,
        problems,
    )


def _bundles(
    source: BundleSource, request: ExportRequest, bundles: list[BundleInfo]
) -> Iterator[BundleRecords]:
    """The bundles jsonl may take records from, each noted in ``bundles`` as read."""
    filters = request.filters
    select = bundle_select(filters, whole_range=True)  # jsonl filters each record by time
    for bundle in source.read_bundles(
        filters.first_bundle, filters.last_bundle, request.allow_unverified, select
    ):
        bundles.append(bundle.info)
        yield bundle


def _jsonl_reads(
    source: BundleSource,
    request: ExportRequest,
    bundles: list[BundleInfo],
    progress: Progress | None,
    wanted: dict[int, set[str]] | None,
) -> Iterator[Read]:
    """What jsonl reads; ``wanted`` (when proofs are asked for) gets the exported messages.

    When no record-level filter applies (``Filters.keeps_every_record``), every line of
    a verified bundle whose source gives its sealed lines is exported: those lines are
    passed on unparsed, with no record (``None``), and only their kind and key are read
    when proofs are asked for. Any other bundle has each record built and filtered.
    """
    filters = request.filters
    every = filters.keeps_every_record()
    keep = filters.keep_record_fully
    for bundle in _bundles(source, request, bundles):
        info = bundle.info
        if every and info.verified and bundle.lines is not None:
            for sealed in counted(bundle.lines, progress):
                if wanted is not None:
                    kind, key = line_kind_and_key(sealed)
                    if kind == _MESSAGE:
                        wanted.setdefault(info.number, set()).add(key)
                yield None, info, sealed
            continue
        for record, line in counted(bundle.with_lines(), progress):
            if wanted is not None and keep(record):
                _want(wanted, record, info)
            yield record, info, line


def _write_proofs(
    out: OutputDir, proofs: ProofSource, wanted: Mapping[int, set[str]]
) -> dict[str, Any]:
    """Write one proof per exported message; the custody manifest's ``proofs`` field."""
    files: dict[str, str] = {}
    for key, data in proofs(wanted):
        relative = f"{PROOFS_DIR}/{key}.json"
        if not out.done(relative):
            with out.create(relative) as handle:
                handle.write(data)
        files[key] = relative
    return {"format": "chatkeeper-proof/1", "files": dict(sorted(files.items()))}


def _want(wanted: dict[int, set[str]], record: Record, info: BundleInfo) -> None:
    if record.kind is Kind.MESSAGE:
        wanted.setdefault(info.number, set()).add(record.key)
