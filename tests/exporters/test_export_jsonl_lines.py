"""jsonl with no record-level filter copies a verified bundle's sealed lines without parsing them.

The fast path must give the bytes, proofs and custody of the path that builds each record.
"""

from __future__ import annotations

import json
from collections.abc import Iterator
from datetime import datetime
from pathlib import Path
from typing import Any

import pytest

from archive.keys import Signer
from archive.proof import Prover
from archive.seal import SealPolicy
from archive.store.s3 import S3ArchiveStore
from exporters.archive_source import ArchiveBundleSource
from exporters.filters import Filters
from exporters.output import MANIFEST_NAME
from exporters.pipeline import ExportRequest, ExportResult, run_export
from exporters.source import BundleRecords, BundleSelect, NoBlobs
from tests.exporters.export_fixtures import EXPORT_SIGNER, EXPORT_TIME
from tests.exporters.test_export_archive import sealed  # noqa: F401  (the sealed sample archive)

Sealed = tuple[S3ArchiveStore, SealPolicy, list[str]]


class _RecordsOnly:
    """The archive source without its unparsed lines: every record is built (the slow path)."""

    def __init__(self, inner: ArchiveBundleSource) -> None:
        self.inner = inner

    def read_bundles(
        self,
        first: int | None,
        last: int | None,
        allow_unverified: bool,
        select: BundleSelect | None = None,
    ) -> Iterator[BundleRecords]:
        for bundle in self.inner.read_bundles(first, last, allow_unverified, select):
            yield BundleRecords(bundle.info, bundle.records, bundle.sealed)


def _export(
    source: Any, store: S3ArchiveStore, policy: SealPolicy, out: Path, fmt: str = "jsonl"
) -> ExportResult:
    return run_export(
        source,
        NoBlobs(),
        ExportRequest(fmt),
        out,
        generator="chatkeeper 0.1.0",
        tool_version="0.1.0",
        operator="officer@example.com",
        now=lambda: EXPORT_TIME,
        signer=EXPORT_SIGNER,
        proofs=Prover(store, policy.layout).proof_files,
    )


def _tree(root: Path) -> dict[str, bytes]:
    return {str(p.relative_to(root)): p.read_bytes() for p in root.rglob("*") if p.is_file()}


def test_unfiltered_jsonl_gives_the_bytes_proofs_and_custody_of_the_parsing_path(
    sealed: Sealed,  # noqa: F811
    signer: Signer,
    tmp_path: Path,
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    """Every file (records.jsonl, each proof, the custody manifest and its signature) is the
    same byte for byte, and the fast path builds no record at all."""
    import exporters.archive_source

    store, policy, _ = sealed
    keys = {signer.public.key_id: signer.public}
    slow = _export(
        _RecordsOnly(ArchiveBundleSource(store, policy.layout, keys)), store, policy, tmp_path / "s"
    )
    built: list[bytes] = []
    real_decode = exporters.archive_source.decode_line

    def counting_decode(line: bytes) -> Any:
        built.append(line)
        return real_decode(line)

    monkeypatch.setattr(exporters.archive_source, "decode_line", counting_decode)
    fast = _export(ArchiveBundleSource(store, policy.layout, keys), store, policy, tmp_path / "f")
    assert built == []
    assert (fast.records_read, fast.file_count) == (slow.records_read, slow.file_count)
    assert fast.records_read == 29
    slow_files, fast_files = _tree(tmp_path / "s"), _tree(tmp_path / "f")
    assert any(name.startswith("proofs/") for name in fast_files)
    assert MANIFEST_NAME in fast_files
    assert fast_files == slow_files


def test_a_record_level_filter_still_builds_and_filters_records(
    sealed: Sealed,  # noqa: F811
    signer: Signer,
    tmp_path: Path,
) -> None:
    """With --to set, records after it are dropped from a bundle that holds both sides."""
    store, policy, _ = sealed
    source = ArchiveBundleSource(store, policy.layout, {signer.public.key_id: signer.public})
    everything = _export(source, store, policy, tmp_path / "all")
    lines = (tmp_path / "all" / "records.jsonl").read_bytes().splitlines()
    times = sorted(json.loads(x)["record"]["occurred_at"] for x in lines)
    cut = datetime.fromisoformat(times[len(times) // 2].replace("Z", "+00:00"))
    result = run_export(
        source,
        NoBlobs(),
        ExportRequest("jsonl", filters=Filters(end=cut)),
        tmp_path / "cut",
        generator="chatkeeper 0.1.0",
        tool_version="0.1.0",
        operator="officer@example.com",
        now=lambda: EXPORT_TIME,
        signer=EXPORT_SIGNER,
    )
    kept = (tmp_path / "cut" / "records.jsonl").read_bytes().splitlines()
    assert 0 < len(kept) < len(lines) == everything.records_read
    assert kept == [
        x for x in lines if json.loads(x)["record"]["occurred_at"] < times[len(times) // 2]
    ]
    assert result.records_read <= everything.records_read


def test_a_folding_export_notes_the_same_messages_for_proofs(
    sealed: Sealed,  # noqa: F811
    signer: Signer,
    tmp_path: Path,
) -> None:
    """html with proofs (the spill path) lists a proof for exactly the messages jsonl lists."""
    from exporters.manifest_io import read_manifest_header

    store, policy, _ = sealed
    source = ArchiveBundleSource(store, policy.layout, {signer.public.key_id: signer.public})
    _export(source, store, policy, tmp_path / "jsonl")
    _export(source, store, policy, tmp_path / "html", "html")
    listed = [
        read_manifest_header(tmp_path / name / MANIFEST_NAME)["proofs"]["files"]
        for name in ("jsonl", "html")
    ]
    messages = {
        json.loads(x)["record"]["key"]
        for x in (tmp_path / "jsonl" / "records.jsonl").read_bytes().splitlines()
        if json.loads(x)["record"]["kind"] == "message"
    }
    assert messages and set(listed[0]) == messages
    assert listed[1] == listed[0]
    assert _tree(tmp_path / "html" / "proofs") == _tree(tmp_path / "jsonl" / "proofs")
