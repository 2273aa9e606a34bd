"""Exports from a real sealed archive on SeaweedFS: verified on read, tampering refused."""

from __future__ import annotations

import hashlib
import json
import secrets
from dataclasses import replace
from datetime import timedelta
from pathlib import Path

import pytest

from archive.clock import FixedClock
from archive.errors import IntegrityError
from archive.journal.sqlite import SqliteJournal
from archive.keys import Signer
from archive.seal import SealPolicy, seal
from archive.store.local_s3 import LocalS3
from archive.store.port import Retention
from archive.store.s3 import S3ArchiveStore
from exporters.archive_source import ArchiveBlobs, ArchiveBundleSource
from exporters.output import MANIFEST_NAME
from tests.exporters.export_fixtures import BLOBS, TERM_SHEET, archive_records, run
from tests.exporters.golden import GOLDEN


@pytest.fixture
def sealed(
    journal: SqliteJournal,
    store: S3ArchiveStore,
    signer: Signer,
    policy: SealPolicy,
    clock: FixedClock,
) -> tuple[S3ArchiveStore, SealPolicy, list[str]]:
    """The sample archive sealed into bundles of 10, 10 and 9 records, blobs stored."""
    policy = replace(policy, max_records=10)
    retention = Retention("COMPLIANCE", clock.now().replace(microsecond=0) + timedelta(days=2))
    for sha, data in BLOBS.items():
        store.put(policy.layout.blob_key(sha), data, sha256_hex=sha, retention=retention)
    journal.append([replace(r, seq=None) for r in archive_records()])
    report = seal(journal, store, signer, policy, clock)
    return store, policy, [row.manifest_sha256 or "" for row in report.bundles]


def _source(store: S3ArchiveStore, policy: SealPolicy, signer: Signer) -> ArchiveBundleSource:
    return ArchiveBundleSource(store, policy.layout, {signer.public.key_id: signer.public})


def test_export_from_sealed_archive_lists_bundles_and_copies_blobs(
    sealed: tuple[S3ArchiveStore, SealPolicy, list[str]], signer: Signer, tmp_path: Path
) -> None:
    """Every bundle is read verified, with its manifest hash, and attachments come from S3."""
    store, policy, hashes = sealed
    result = run(
        "html",
        tmp_path,
        source=_source(store, policy, signer),
        blobs=ArchiveBlobs(store, policy.layout),
    )
    assert [(b.number, b.manifest_sha256, b.verified) for b in result.bundles] == [
        (1, hashes[0], True),
        (2, hashes[1], True),
        (3, hashes[2], True),
    ]
    assert result.records_read == 29
    page = (tmp_path / "html" / "slack-T0001-C0DEALS01.html").read_text("utf-8")
    assert all(h in page for h in hashes)
    pdf = next((tmp_path / "html" / "files").rglob("*.pdf"))
    assert pdf.read_bytes() == TERM_SHEET
    custody = json.loads((tmp_path / MANIFEST_NAME).read_text("utf-8"))
    assert [b["manifest_sha256"] for b in custody["bundles"]] == hashes
    assert custody["verification"]["status"] == "verified"


def test_sealed_archive_exports_the_same_rows_as_the_records(
    sealed: tuple[S3ArchiveStore, SealPolicy, list[str]], signer: Signer, tmp_path: Path
) -> None:
    """The CSV from S3 equals the golden CSV built from the same records in memory."""
    store, policy, _ = sealed
    run("csv", tmp_path, source=_source(store, policy, signer))
    golden = GOLDEN / "export-csv" / "messages.csv"
    assert (tmp_path / "messages.csv").read_bytes() == golden.read_bytes()


def test_bundle_range_reads_only_those_bundles(
    sealed: tuple[S3ArchiveStore, SealPolicy, list[str]], signer: Signer, tmp_path: Path
) -> None:
    """--bundle 2-3 reads bundles 2 and 3 only (19 records)."""
    from exporters.filters import Filters

    store, policy, _ = sealed
    result = run(
        "jsonl",
        tmp_path,
        source=_source(store, policy, signer),
        filters=Filters(first_bundle=2, last_bundle=3),
    )
    assert [b.number for b in result.bundles] == [2, 3]
    lines = (tmp_path / "records.jsonl").read_text("utf-8").splitlines()
    assert [json.loads(line)["seq"] for line in lines] == list(range(11, 30))


def _tampered_copy(
    store: S3ArchiveStore, local_s3: LocalS3, clock: FixedClock, policy: SealPolicy
) -> S3ArchiveStore:
    """A copy of the bucket whose bundle 2 has one record changed (as a restore might)."""
    import io

    import zstandard

    from archive.bundle import iter_lines

    name = f"tampered-{secrets.token_hex(5)}"
    local_s3.ensure_bucket(name, mode="COMPLIANCE", days=1)
    copy = S3ArchiveStore(store.client, name)
    retention = Retention("COMPLIANCE", clock.now().replace(microsecond=0) + timedelta(days=1))
    for version in list(store.versions("")):
        data = store.get(version.key, version.version_id)
        if version.key == policy.layout.records_key(2):
            lines = list(iter_lines(io.BytesIO(data)))
            lines = [x.replace(b"my personal phone", b"my office phone") for x in lines]
            data = zstandard.ZstdCompressor().compress(b"".join(x + b"\n" for x in lines))
        sha = hashlib.sha256(data).hexdigest()
        copy.put(version.key, data, sha256_hex=sha, retention=retention)
    return copy


def test_tampered_bundle_is_refused_unless_allowed_and_then_marked(
    sealed: tuple[S3ArchiveStore, SealPolicy, list[str]],
    signer: Signer,
    local_s3: LocalS3,
    clock: FixedClock,
    tmp_path: Path,
) -> None:
    """A changed record stops the export; --allow-unverified exports it, marked everywhere."""
    store, policy, _ = sealed
    copy = _tampered_copy(store, local_s3, clock, policy)
    with pytest.raises(IntegrityError, match="failed verification"):
        run("html", tmp_path / "refused", source=_source(copy, policy, signer))
    assert not (tmp_path / "refused" / MANIFEST_NAME).exists()
    assert not list((tmp_path / "refused").rglob("*.html"))
    result = run(
        "html", tmp_path / "allowed", source=_source(copy, policy, signer), allow_unverified=True
    )
    problems = {b.number: b.problem or "" for b in result.bundles}
    assert "records object SHA-256 does not match" in problems[2]
    custody = json.loads((tmp_path / "allowed" / MANIFEST_NAME).read_text("utf-8"))
    assert custody["verification"]["status"] == "unverified"
    assert custody["verification"]["allow_unverified"] is True
    assert 2 in custody["verification"]["unverified_bundles"]
    page = (tmp_path / "allowed" / "html" / "slack-T0001-C0DEALS01.html").read_text("utf-8")
    assert '<header class="export unverified">' in page
    assert "UNVERIFIED: bundles 1-3 read with --allow-unverified" in page
    assert "Call me on my office phone" in page
    assert 'class="label unverified-label"' in page


def _sealed_lines(store: S3ArchiveStore, policy: SealPolicy, number: int) -> list[bytes]:
    """The lines of bundle ``number``'s records object, read straight from the store."""
    import io

    from archive.bundle import iter_lines

    key = policy.layout.records_key(number)
    (version,) = [v for v in store.versions(key) if v.key == key]
    return list(iter_lines(io.BytesIO(store.get(key, version.version_id))))


def test_jsonl_lines_are_the_sealed_lines_byte_for_byte(
    sealed: tuple[S3ArchiveStore, SealPolicy, list[str]], signer: Signer, tmp_path: Path
) -> None:
    """Each jsonl line is the sealed line's bytes with its bundle and verified; verify-export agrees."""
    from exporters.custody import verify_export
    from tests.exporters.export_fixtures import EXPORT_SIGNER

    store, policy, _ = sealed
    out = tmp_path / "export"
    run("jsonl", out, source=_source(store, policy, signer))
    expected = [
        b'{"bundle":%d,%b,"verified":true}\n' % (number, line[1:-1])
        for number in (1, 2, 3)
        for line in _sealed_lines(store, policy, number)
    ]
    assert len(expected) == 29
    assert (out / "records.jsonl").read_bytes() == b"".join(expected)
    check = verify_export(out, {EXPORT_SIGNER.public.key_id: EXPORT_SIGNER.public})
    assert check.ok, check.problems
    assert check.files_checked == 1


class _CountingStore:
    """The real store, counting the records objects read from it (a pass-through)."""

    def __init__(self, inner: S3ArchiveStore) -> None:
        self.inner = inner
        self.records_reads: dict[str, int] = {}

    def _count(self, key: str) -> None:
        if key.endswith("records.jsonl.zst"):
            self.records_reads[key] = self.records_reads.get(key, 0) + 1

    def open(self, key: str, version_id: str) -> object:
        self._count(key)
        return self.inner.open(key, version_id)

    def get(self, key: str, version_id: str) -> bytes:
        self._count(key)
        return self.inner.get(key, version_id)

    def __getattr__(self, name: str) -> object:
        return getattr(self.inner, name)


@pytest.mark.parametrize("fmt", ["jsonl", "html"])
def test_each_records_object_is_fetched_and_decompressed_once(
    sealed: tuple[S3ArchiveStore, SealPolicy, list[str]],
    signer: Signer,
    tmp_path: Path,
    monkeypatch: pytest.MonkeyPatch,
    fmt: str,
) -> None:
    """Verifying and parsing a bundle share one download and one zstd decompression."""
    from types import SimpleNamespace

    import zstandard

    import archive.bundle

    store, policy, _ = sealed
    decompressors: list[object] = []

    def decompressor() -> zstandard.ZstdDecompressor:
        made = zstandard.ZstdDecompressor()
        decompressors.append(made)
        return made

    monkeypatch.setattr(archive.bundle, "zstandard", SimpleNamespace(ZstdDecompressor=decompressor))
    counting = _CountingStore(store)
    result = run(fmt, tmp_path, source=_source(counting, policy, signer))  # type: ignore[arg-type]
    assert result.records_read == 29 and result.verified
    assert counting.records_reads == {policy.layout.records_key(n): 1 for n in (1, 2, 3)}
    assert len(decompressors) == 3
