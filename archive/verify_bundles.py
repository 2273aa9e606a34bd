"""Verify one bundle of a stream, and walk the bundles in number order along the chain.

Per bundle: the manifest's format, identity, signature and chain link; the
records object's SHA-256, size, record count, seq order and Merkle root; the
Object Lock of every pinned version; with ``deep``, every referenced blob.
:class:`BundleWalk` runs these checks bundle after bundle for
``archive.verify.verify_stream`` (from the start of the stream) and
``archive.verify_incremental`` (after a verified state).
"""

from __future__ import annotations

import hashlib
from collections.abc import Callable
from dataclasses import dataclass, field
from typing import TYPE_CHECKING, Any

from archive import frames, merkle, references
from archive.blob_check import DeclaredSizeCheck
from archive.bundle import (
    HashingReader,
    Layout,
    check_signature,
    iter_lines,
    parse_manifest,
)
from archive.codec import line_body, line_seq, parse_time
from archive.errors import StoreError, StoreUnavailableError
from archive.hashing import stream_sha256
from archive.keys import PublicKey
from archive.store import ArchiveStore, ObjectVersion
from archive.summary import SummaryCheck, rotation_payload
from archive.trust import Finding, TrustWalk

if TYPE_CHECKING:
    from archive.verify import VerifyReport


@dataclass(frozen=True)
class RecordsCheck:
    problems: tuple[str, ...]
    records: int
    size: int
    rotations: tuple[dict[str, Any], ...] = ()
    summary: tuple[str, ...] = ()  # where the manifest's summary differs from the records


def original_version(versions: list[ObjectVersion]) -> ObjectVersion | None:
    """The first real version of a key: the one sealed, whatever came after."""
    real = [v for v in versions if not v.is_delete_marker]
    return real[0] if real else None


def version_problems(name: str, versions: list[ObjectVersion]) -> list[str]:
    problems = []
    if any(v.is_delete_marker for v in versions):
        problems.append(f"{name} has a delete marker (someone tried to delete it)")
    if len([v for v in versions if not v.is_delete_marker]) > 1:
        problems.append(f"{name} has extra versions written after sealing")
    return problems


_FIELDS: dict[str, type | tuple[type, ...]] = {
    "bundle": int,
    "stream": str,
    "seq_first": int,
    "seq_last": int,
    "record_count": int,
    "records": dict,
    "blobs": list,
    "retention": dict,
    "signature": dict,
}
_RECORDS_FIELDS: dict[str, type] = {
    "key": str,
    "version_id": str,
    "sha256": str,
    "size": int,
    "merkle_root": str,
}


def _shape_problems(doc: dict[str, Any]) -> list[str]:
    wrong = [name for name, kind in _FIELDS.items() if not isinstance(doc.get(name), kind)]
    if not wrong:
        records = doc["records"]
        wrong = [
            f"records.{n}"
            for n, kind in _RECORDS_FIELDS.items()
            if not isinstance(records.get(n), kind)
        ]
        retention = doc["retention"]
        if not isinstance(retention.get("mode"), str) or not isinstance(
            retention.get("retain_until"), str
        ):
            wrong.append("retention")
    return [f"manifest fields missing or malformed: {', '.join(wrong)}"] if wrong else []


def check_manifest(
    data: bytes, number: int, stream: str, previous_sha: str | None, keys: dict[str, PublicKey]
) -> tuple[dict[str, Any] | None, list[str]]:
    """Parse and check one manifest: format, identity, signature, chain link."""
    try:
        doc = parse_manifest(data)
    except ValueError as exc:
        return None, [f"manifest is not valid JSON of the bundle format: {exc}"]
    missing = _shape_problems(doc)
    if missing:
        return None, missing
    problems = []
    if doc.get("bundle") != number or doc.get("stream") != stream:
        problems.append(f"manifest claims bundle {doc.get('bundle')} of {doc.get('stream')!r}")
    signature_problem = check_signature(doc, keys)
    if signature_problem:
        problems.append(signature_problem)
    problems += references.field_problems(doc)
    problems += frames.field_problems(doc)
    if doc.get("previous_manifest_sha256") != previous_sha:
        problems.append(
            "chain broken: previous_manifest_sha256 does not match the previous manifest"
        )
    return doc, problems


def check_records(
    store: ArchiveStore,
    doc: dict[str, Any],
    keep: Callable[[bytes], object] | None = None,
    *,
    summary: bool = False,
) -> RecordsCheck:
    """Stream the pinned records object: hash, size, count, seq order, Merkle root.

    ``keep`` is handed every decompressed line as it is checked, so that a reader
    decompresses the object once (``archive.read`` keeps the lines until the
    check is complete, then parses them). With ``summary`` (``verify``), every
    record is also decoded to compute the manifest's summary again
    (``archive.summary``); readers trust the summary of a manifest that verify
    has checked, and do not pay for the decoding.
    """
    spec = doc["records"]
    body = store.open(spec["key"], spec["version_id"])
    hashing = HashingReader(body)
    leaves: list[bytes] = []
    problems: list[str] = []
    rotations: list[dict[str, Any]] = []
    last_seq = 0
    table = None if frames.field_problems(doc) else frames.frame_table(doc)
    recount = SummaryCheck(doc, table) if summary else None
    lines = (
        iter_lines(hashing)  # type: ignore[arg-type]
        if table is None
        else frames.framed_lines(hashing, table, problems)  # type: ignore[arg-type]
    )
    try:
        for line in lines:
            leaves.append(merkle.leaf_hash(line))
            if keep is not None:
                keep(line)
            if b'"kind":"key_rotated"' in line:
                payload = rotation_payload(line_body(line))
                if payload is not None:
                    rotations.append(payload)
            try:
                seq = line_seq(line)
            except ValueError:
                problems.append(f"record {len(leaves)} is not a sealed line")
                continue
            if seq <= last_seq or not doc["seq_first"] <= seq <= doc["seq_last"]:
                problems.append(f"record {len(leaves)} has seq {seq} out of order or range")
            last_seq = seq
            if recount is not None:
                recount.add(line)
    except Exception as exc:
        problems.append(f"records object cannot be decompressed: {exc}")
    finally:
        body.close()
    if hashing.digest.hexdigest() != spec["sha256"]:
        problems.append("records object SHA-256 does not match the manifest")
    if hashing.size != spec["size"]:
        problems.append(f"records object is {hashing.size} bytes, manifest says {spec['size']}")
    if len(leaves) != doc["record_count"]:
        problems.append(f"{len(leaves)} records, manifest says {doc['record_count']}")
    if merkle.root(leaves).hex() != spec["merkle_root"]:
        problems.append("Merkle root of the records does not match the manifest")
    found = () if recount is None or problems else tuple(recount.problems())
    return RecordsCheck(tuple(problems), len(leaves), hashing.size, tuple(rotations), found)


def resolve_records(
    doc: dict[str, Any], versions: list[ObjectVersion], layout: Layout, number: int
) -> tuple[dict[str, Any] | None, list[str]]:
    """Point ``doc`` at the records object to check: the pinned version if present.

    A copy of the bucket (not a replica) has new version ids: that is reported,
    and the original version at the expected key is checked instead.
    """
    key = layout.records_key(number)
    problems = []
    if doc["records"].get("key") != key:
        problems.append(f"manifest names records object {doc['records'].get('key')!r}")
    original = original_version(versions)
    if original is None:
        return None, [*problems, "records object is missing"]
    pinned = doc["records"].get("version_id")
    if pinned not in {v.version_id for v in versions}:
        problems.append("pinned records version is missing")
        pinned = original.version_id
    return {**doc, "records": {**doc["records"], "key": key, "version_id": pinned}}, problems


def check_lock(store: ArchiveStore, key: str, version: str, doc: dict[str, Any]) -> list[str]:
    wanted = doc["retention"]
    current = store.retention(key, version)
    if current is None:
        return [f"{key} is not locked"]
    problems = []
    if current.mode != wanted["mode"]:
        problems.append(f"{key} is locked in {current.mode}, manifest says {wanted['mode']}")
    if current.retain_until < parse_time(wanted["retain_until"]):
        problems.append(f"{key} is locked only until {current.retain_until.isoformat()}")
    return problems


def check_blob(store: ArchiveStore, blob: dict[str, str], doc: dict[str, Any]) -> list[str]:
    versions = list(store.versions(blob["key"]))
    original = original_version(versions)
    if original is None:
        return [f"blob {blob['sha256']} is missing"]
    problems = version_problems(blob["key"], versions)
    with store.open(blob["key"], original.version_id) as body:
        sha256, _ = stream_sha256(body)
    if sha256 != blob["sha256"]:
        problems.append(f"blob {blob['sha256']} content does not match its hash")
    return problems + check_lock(store, blob["key"], original.version_id, doc)


def _read_failure(store: ArchiveStore, exc: StoreError) -> str:
    """The finding for an object the store would not serve; re-raise if the store is gone."""
    if isinstance(exc, StoreUnavailableError):
        try:
            store.lock_info()
        except StoreUnavailableError:
            raise exc from None
    return f"the store failed to read it: {exc}"


def _verify_bundle(
    store: ArchiveStore,
    layout: Layout,
    keys: dict[str, PublicKey],
    number: int,
    objects: dict[str, list[ObjectVersion]],
    data: bytes,
    previous_sha: str | None,
    deep: bool,
    records: bool = True,
    absent: list[tuple[int, str, str]] | None = None,
) -> tuple[dict[str, Any] | None, list[Finding]]:
    """Every check of one bundle whose manifest bytes are ``data``.

    A records object or blob with no version at all goes to ``absent``
    (bundle, key, pinned version or "" for a blob): disposed or tampered,
    which only the certificates sealed later can tell.
    """
    absent = [] if absent is None else absent
    found = [
        Finding(number, "versions", p)
        for name, versions in sorted(objects.items())
        for p in version_problems(name, versions)
    ]
    doc, problems = check_manifest(data, number, layout.stream, previous_sha, keys)
    found += [Finding(number, "manifest", p) for p in problems]
    if doc is None:
        return None, found
    records_versions = objects.get("records.jsonl.zst", [])
    if original_version(records_versions) is None and doc["records"]["key"] == layout.records_key(
        number
    ):
        absent.append((number, doc["records"]["key"], doc["records"]["version_id"]))
        manifest_version = original_version(objects["manifest.json"])
        assert manifest_version is not None
        found += [
            Finding(number, "lock", p)
            for p in check_lock(store, manifest_version.key, manifest_version.version_id, doc)
        ]
        resolved, problems = None, []
    else:
        resolved, problems = resolve_records(doc, records_versions, layout, number)
    found += [Finding(number, "records", p) for p in problems]
    if resolved is not None:
        manifest_version = original_version(objects["manifest.json"])
        assert manifest_version is not None
        pinned = [(manifest_version.key, manifest_version.version_id)]
        if records:
            pinned.append((resolved["records"]["key"], resolved["records"]["version_id"]))
            try:
                result = check_records(store, resolved, summary=True)
            except StoreError as exc:
                found.append(
                    Finding(number, "read", f"records object: {_read_failure(store, exc)}")
                )
            else:
                found += [Finding(number, "records", p) for p in result.problems]
                found += [Finding(number, "summary", p) for p in result.summary]
                if list(result.rotations) != list(doc.get("key_rotations", [])):
                    found.append(
                        Finding(number, "keys", "key_rotated records differ from the manifest's")
                    )
        for key, version in pinned:
            try:
                found += [Finding(number, "lock", p) for p in check_lock(store, key, version, doc)]
            except StoreError as exc:
                found.append(
                    Finding(number, "read", f"{key} retention: {_read_failure(store, exc)}")
                )
    if deep:
        for blob in doc["blobs"]:
            versions = [v for v in store.versions(blob["key"]) if v.key == blob["key"]]
            if not versions:
                absent.append((number, blob["key"], ""))
                continue
            try:
                found += [Finding(number, "blob", p) for p in check_blob(store, blob, doc)]
            except StoreError as exc:
                message = f"blob {blob['sha256']}: {_read_failure(store, exc)}"
                found.append(Finding(number, "blob", message))
    return doc, found


@dataclass
class BundleWalk:
    """Bundles checked in number order along the chain, into ``report``.

    Starts at the beginning of the stream, or (incremental verification) after
    a verified bundle whose manifest hash and last seq are ``previous_sha`` and
    ``previous_seq``. ``absent`` collects records objects missing from the
    store, for the caller to settle against disposition certificates.
    """

    store: ArchiveStore
    layout: Layout
    report: VerifyReport
    walk: TrustWalk
    deep: bool = False
    records: bool = True
    sizes: DeclaredSizeCheck | None = None
    previous_sha: str | None = None
    previous_seq: int = 0
    manifest_shas: dict[int, str] = field(default_factory=dict)
    absent: list[tuple[int, str, str]] = field(default_factory=list)

    def visit(self, number: int, objects: dict[str, list[ObjectVersion]]) -> None:
        report, walk, store = self.report, self.walk, self.store
        manifest_version = original_version(objects.get("manifest.json", []))
        if manifest_version is None:
            report.findings.append(Finding(number, "gap", f"bundle {number} is missing"))
            self.previous_sha = None
            return
        try:
            data = store.get(manifest_version.key, manifest_version.version_id)
        except StoreError as exc:
            message = f"manifest: {_read_failure(store, exc)}"
            report.findings.append(Finding(number, "read", message))
            self.previous_sha = None
            report.bundles += 1
            return
        doc, findings = _verify_bundle(
            store,
            self.layout,
            walk.keys,
            number,
            objects,
            data,
            self.previous_sha,
            self.deep,
            self.records,
            self.absent,
        )
        self.previous_sha = hashlib.sha256(data).hexdigest()
        self.manifest_shas[number] = self.previous_sha
        if self.sizes is not None and doc is not None:
            self.sizes.add_bundle(number, doc)
        if doc is not None:
            if doc["seq_first"] <= self.previous_seq:
                findings.append(
                    Finding(number, "records", "seq range overlaps the previous bundle")
                )
            problem = walk.signer_problem(number, doc)
            if problem:
                findings.append(Finding(number, "manifest", problem))
            self.previous_seq = doc["seq_last"]
            report.events += doc.get("archive_events", [])
            report.records += doc["record_count"]
            report.bytes += doc["records"]["size"] + len(data)
            refused = walk.follow(number, doc, clean=not findings)
            findings += refused
            if doc.get("key_rotations") and not refused:
                for entry in doc["key_rotations"]:
                    report.rotations.append(
                        {
                            "bundle": number,
                            "old": entry["old_key_id"],
                            "new": entry["new_key"]["key_id"],
                        }
                    )
        report.findings += findings
        report.bundles += 1
