"""A console export: the exporters' output for a result set, zipped for download.

The export runs in a temporary directory through ``exporters.pipeline.run_export``
over ``exporters.archive_source.checked_source`` (the stream checks of ``verify``
first, as the CLI export runs them: a stream with findings is refused; then
verified bundles only; its custody manifest inside), then the directory is
zipped into a spooled temporary file for the response.
"""

from __future__ import annotations

import hashlib
import tempfile
import zipfile
from collections.abc import Callable
from dataclasses import dataclass
from datetime import datetime
from pathlib import Path
from typing import IO, Any

from archive.bundle import Layout
from archive.keys import PublicKey, Signer
from archive.store import ArchiveStore
from exporters.archive_source import ArchiveBlobs, checked_source
from exporters.output import MANIFEST_NAME
from exporters.pipeline import ExportRequest, run_export
from exporters.source import BundleSource

_SPOOL_BYTES = 16 * 1024 * 1024


@dataclass(frozen=True, slots=True)
class ZippedExport:
    data: IO[bytes]
    size: int
    files: int
    records_read: int
    manifest_sha256: str
    request: dict[str, Any]


def export_zip(
    store: ArchiveStore,
    layout: Layout,
    keys: dict[str, PublicKey],
    request: ExportRequest,
    *,
    operator: str,
    generator: str,
    tool_version: str,
    now: Callable[[], datetime],
    signer: Signer,
    temp_dir: Path | None = None,
    source: BundleSource | None = None,
) -> ZippedExport:
    """Run the export and zip it; the caller closes ``data``."""
    with tempfile.TemporaryDirectory(prefix="chatkeeper-console-", dir=temp_dir) as scratch:
        out = Path(scratch) / "export"
        result = run_export(
            source or checked_source(store, layout, keys),
            ArchiveBlobs(store, layout),
            request,
            out,
            generator=generator,
            tool_version=tool_version,
            operator=operator,
            now=now,
            signer=signer,
            temp_dir=temp_dir,
        )
        manifest_sha = hashlib.sha256((out / MANIFEST_NAME).read_bytes()).hexdigest()
        spool: IO[bytes] = tempfile.SpooledTemporaryFile(max_size=_SPOOL_BYTES)  # noqa: SIM115
        count = 0
        with zipfile.ZipFile(spool, "w", compression=zipfile.ZIP_DEFLATED) as archive:
            for path in sorted(p for p in out.rglob("*") if p.is_file()):
                archive.write(path, path.relative_to(out).as_posix())
                count += 1
        size = spool.tell()
        spool.seek(0)
    return ZippedExport(spool, size, count, result.records_read, manifest_sha, request.describe())
