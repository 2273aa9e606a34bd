"""verify_stream and read_bundles detect every kind of tampering the issue names."""

from __future__ import annotations

import hashlib
import io
import json
from collections.abc import Callable
from dataclasses import replace
from datetime import timedelta
from pathlib import Path

import pytest
import zstandard

from archive.bundle import iter_lines, parse_manifest, sign_manifest
from archive.clock import FixedClock
from archive.errors import IntegrityError
from archive.journal.sqlite import SqliteJournal
from archive.keys import Signer, load_or_create_signer
from archive.read import read_bundles
from archive.seal import SealPolicy, seal
from archive.store.port import Retention
from archive.store.s3 import S3ArchiveStore
from archive.verify import verify_stream
from tests.factories import slack_message, stored_attachment

Transform = Callable[[str, bytes], bytes | None]


@pytest.fixture
def sealed(
    journal: SqliteJournal,
    store: S3ArchiveStore,
    signer: Signer,
    policy: SealPolicy,
    clock: FixedClock,
) -> S3ArchiveStore:
    """Three sealed bundles (50+50+20 records), one with an attachment."""
    data = b"%PDF-1.7 quarterly"
    att = stored_attachment(data)
    store.put(
        policy.layout.blob_key(att.sha256 or ""),
        data,
        sha256_hex=att.sha256 or "",
        retention=Retention("COMPLIANCE", clock.now().replace(microsecond=0) + timedelta(days=2)),
    )
    journal.append([slack_message(i, attachments=(att,) if i == 7 else ()) for i in range(120)])
    seal(journal, store, signer, policy, clock)
    return store


def copy_stream(
    src: S3ArchiveStore, dst: S3ArchiveStore, transform: Transform, clock: FixedClock
) -> None:
    """Copy every object into another locked bucket, letting ``transform`` alter or drop it."""
    retention = Retention("COMPLIANCE", clock.now().replace(microsecond=0) + timedelta(days=1))
    for version in list(src.versions("")):
        data = transform(version.key, src.get(version.key, version.version_id))
        if data is not None:
            dst.put(
                version.key, data, sha256_hex=hashlib.sha256(data).hexdigest(), retention=retention
            )


def _other_store(store: S3ArchiveStore, local_s3: object) -> S3ArchiveStore:
    import secrets

    name = f"copy-{secrets.token_hex(5)}"
    local_s3.ensure_bucket(name, mode="COMPLIANCE", days=1)  # type: ignore[attr-defined]
    return S3ArchiveStore(store.client, name)


def _verify(
    store: S3ArchiveStore, signer: Signer, policy: SealPolicy, deep: bool = False
) -> list[str]:
    report = verify_stream(store, policy.layout, {signer.public.key_id: signer.public}, deep=deep)
    return [f"{f.bundle}:{f.check}:{f.message}" for f in report.findings]


def test_intact_stream_verifies(sealed: S3ArchiveStore, signer: Signer, policy: SealPolicy) -> None:
    """An untouched stream has no findings, deep mode included, and counts every record."""
    report = verify_stream(sealed, policy.layout, {signer.public.key_id: signer.public}, deep=True)
    assert report.findings == []
    assert (report.bundles, report.records, report.last_bundle) == (3, 120, 3)


def _recompress(data: bytes, edit: Callable[[list[bytes]], list[bytes]]) -> bytes:
    lines = edit(list(iter_lines(io.BytesIO(data))))
    return zstandard.ZstdCompressor().compress(b"".join(line + b"\n" for line in lines))


CASES: dict[str, tuple[Transform, str]] = {
    "changed byte": (
        lambda k, d: (
            d[:100] + bytes([d[100] ^ 1]) + d[101:]
            if k.endswith("0000000002/records.jsonl.zst")
            else d
        ),
        "2:records:records object SHA-256 does not match",
    ),
    "missing bundle": (
        lambda k, d: None if "/0000000002/" in k else d,
        "2:gap:bundle 2 is missing",
    ),
    "removed record": (
        lambda k, d: (
            _recompress(d, lambda ls: ls[:3] + ls[4:])
            if k.endswith("0000000001/records.jsonl.zst")
            else d
        ),
        "1:records:49 records, manifest says 50",
    ),
}


@pytest.mark.parametrize("case", sorted(CASES))
def test_tampering_is_detected(
    case: str,
    sealed: S3ArchiveStore,
    local_s3: object,
    signer: Signer,
    policy: SealPolicy,
    clock: FixedClock,
) -> None:
    """A changed byte, a missing bundle and a removed record are each reported."""
    transform, expected = CASES[case]
    copy = _other_store(sealed, local_s3)
    copy_stream(sealed, copy, transform, clock)
    findings = _verify(copy, signer, policy)
    assert any(f.startswith(expected) for f in findings), findings


def test_swapped_manifest_is_detected(
    sealed: S3ArchiveStore,
    local_s3: object,
    signer: Signer,
    policy: SealPolicy,
    clock: FixedClock,
) -> None:
    """Manifests 2 and 3 swapped: identity and chain checks fail."""
    m2 = policy.layout.manifest_key(2)
    m3 = policy.layout.manifest_key(3)
    originals = {k: sealed.get(k, next(v.version_id for v in sealed.versions(k))) for k in (m2, m3)}
    copy = _other_store(sealed, local_s3)
    copy_stream(
        sealed,
        copy,
        lambda k, d: originals[m3] if k == m2 else originals[m2] if k == m3 else d,
        clock,
    )
    findings = _verify(copy, signer, policy)
    assert any(f.startswith("2:manifest:manifest claims bundle 3") for f in findings), findings
    assert any("chain broken" in f for f in findings), findings


def test_resigned_with_another_key_is_detected(
    sealed: S3ArchiveStore,
    local_s3: object,
    signer: Signer,
    policy: SealPolicy,
    clock: FixedClock,
    tmp_path: Path,
) -> None:
    """A forger who rewrites a record and re-signs with their own key is caught by the trusted key."""
    forger = load_or_create_signer(tmp_path / "forger")
    key = policy.layout.records_key(1)

    def forge(k: str, d: bytes) -> bytes:
        if k == policy.layout.manifest_key(1):
            doc = parse_manifest(d)
            doc.pop("signature")
            return sign_manifest(doc, forger)
        return d

    copy = _other_store(sealed, local_s3)
    copy_stream(sealed, copy, forge, clock)
    findings = _verify(copy, signer, policy)
    assert any(f"signed by untrusted key {forger.public.key_id!r}" in f for f in findings), findings
    assert key  # the records object itself was left intact; only the signature betrays it


def test_extra_version_is_reported(
    sealed: S3ArchiveStore, signer: Signer, policy: SealPolicy, clock: FixedClock
) -> None:
    """A later PUT to a sealed key makes a second version: reported, original still verified."""
    key = policy.layout.manifest_key(3)
    fake = json.dumps({"format": "chatkeeper-bundle/1"}).encode()
    sealed.put(
        key,
        fake,
        sha256_hex=hashlib.sha256(fake).hexdigest(),
        retention=Retention("COMPLIANCE", clock.now().replace(microsecond=0) + timedelta(days=1)),
    )
    findings = _verify(sealed, signer, policy)
    assert findings == ["3:versions:manifest.json has extra versions written after sealing"]


def test_manifest_not_json(
    sealed: S3ArchiveStore, local_s3: object, signer: Signer, policy: SealPolicy, clock: FixedClock
) -> None:
    """A manifest that is not JSON is a clear finding, not a crash."""
    copy = _other_store(sealed, local_s3)
    copy_stream(
        sealed,
        copy,
        lambda k, d: b"\x00not json" if k == policy.layout.manifest_key(2) else d,
        clock,
    )
    findings = _verify(copy, signer, policy)
    assert any(f.startswith("2:manifest:manifest is not valid JSON") for f in findings), findings


def test_read_bundles_verifies_on_read(
    sealed: S3ArchiveStore,
    local_s3: object,
    signer: Signer,
    policy: SealPolicy,
    clock: FixedClock,
) -> None:
    """read_bundles yields all records of an intact stream and refuses a tampered one."""
    keys = {signer.public.key_id: signer.public}
    got = [r.key for _, records in read_bundles(sealed, policy.layout, keys) for r in records]
    assert got == [slack_message(i).key for i in range(120)]
    copy = _other_store(sealed, local_s3)
    copy_stream(sealed, copy, CASES["removed record"][0], clock)
    with pytest.raises(IntegrityError, match="bundle 1"):
        for _, records in read_bundles(copy, policy.layout, keys):
            list(records)
    marked = {
        b.number: b.problems
        for b, rs in read_bundles(copy, policy.layout, keys, allow_unverified=True)
        if list(rs) is not None
    }
    # A plain copy has new version ids, so every bundle is flagged for that; only
    # bundle 1 has altered content.
    assert marked[2] == marked[3] == ("pinned records version is missing",)
    assert "49 records, manifest says 50" in marked[1]


def test_read_bundles_range(sealed: S3ArchiveStore, signer: Signer, policy: SealPolicy) -> None:
    """A bundle range reads just those bundles, still checking the chain link into the first."""
    keys = {signer.public.key_id: signer.public}
    numbers = [
        (b.number, len(list(rs)))
        for b, rs in read_bundles(sealed, policy.layout, keys, first=2, last=3)
    ]
    assert numbers == [(2, 50), (3, 20)]


def test_policy_replace_unused() -> None:
    """SealPolicy is a frozen value: replace() makes a changed copy and leaves the original."""
    from archive.bundle import Layout

    base = SealPolicy(layout=Layout("s"))
    assert replace(base, max_records=5).max_records == 5 and base.max_records == 100_000


def test_read_bundles_reports_unreadable_manifest(
    sealed: S3ArchiveStore, local_s3: object, signer: Signer, policy: SealPolicy, clock: FixedClock
) -> None:
    """With allow_unverified, a bundle whose manifest is not JSON is yielded, empty, with its problem."""
    copy = _other_store(sealed, local_s3)
    copy_stream(
        sealed, copy, lambda k, d: b"garbage" if k == policy.layout.manifest_key(2) else d, clock
    )
    keys = {signer.public.key_id: signer.public}
    seen = {
        b.number: (b.problems, len(list(rs)))
        for b, rs in read_bundles(copy, policy.layout, keys, allow_unverified=True)
    }
    problems, count = seen[2]
    assert count == 0 and any("not valid JSON" in p for p in problems)
    assert seen[3][1] == 20
