"""Verify a sealed stream end to end, reading only the store.

Checks, per DESIGN.md: bundle numbering has no gaps; every manifest links to
the previous one; signatures verify under trusted keys; the records object's
SHA-256 and size; the Merkle root and record count; seqs increase; every
version is locked at least until the manifest's retain-until; and, with
``deep``, every referenced blob exists with the right hash and lock. Archive
keys must hold exactly one version: a second version or a delete marker is
reported as tampering (the locked original is what we verify).

Trust starts from the pinned keys and follows key rotations forward (see
``archive.rotation``); the signed checkpoints (``archive.verify_checkpoints``)
show a removed tail. The checks of one bundle and the walk along the chain
are in ``archive.verify_bundles``. A store that refuses or fails to read one
bundle's object makes that bundle an integrity finding; only a store
unreachable as a whole raises StoreUnavailableError.
"""

from __future__ import annotations

from collections import defaultdict
from collections.abc import Callable
from dataclasses import dataclass, field
from datetime import datetime, timedelta
from typing import Any

from archive.blob_check import DeclaredSizeCheck
from archive.bundle import Layout
from archive.certificates import settle_absent
from archive.hold_check import check_holds
from archive.keys import PublicKey
from archive.store import ArchiveStore, ObjectVersion
from archive.trust import Finding as Finding  # re-exported: verify's findings
from archive.trust import TrustWalk
from archive.trust import published_keys as published_keys
from archive.verify_bundles import BundleWalk
from archive.verify_bundles import check_manifest as check_manifest  # re-exported
from archive.verify_bundles import check_records as check_records  # re-exported
from archive.verify_bundles import original_version as original_version  # re-exported
from archive.verify_bundles import resolve_records as resolve_records  # re-exported
from archive.verify_checkpoints import KeyWindows, check_checkpoints


@dataclass
class VerifyReport:
    stream: str
    trust: str  # "trusted keys" or "keys published in the store"
    bundles: int = 0
    records: int = 0
    bytes: int = 0
    last_bundle: int | None = None
    findings: list[Finding] = field(default_factory=list)
    keys: dict[str, PublicKey] = field(default_factory=dict)  # pinned + introduced by rotation
    rotations: list[dict[str, Any]] = field(default_factory=list)
    checkpoints: int = 0
    newest_checkpoint: dict[str, Any] | None = None
    # where the walk ended, for a verified state (``archive.verify_state``)
    last_manifest_sha256: str | None = None
    last_seq: int = 0
    windows: KeyWindows = field(default_factory=KeyWindows)
    held_objects: int = 0  # objects checked for the legal hold of an open matter
    disposed: list[dict[str, Any]] = field(default_factory=list)  # absent, and certified
    events: list[dict[str, Any]] = field(default_factory=list)  # archive_events, bundle order

    @property
    def ok(self) -> bool:
        return not self.findings

    def to_json(self) -> dict[str, Any]:
        return {
            "stream": self.stream,
            "ok": self.ok,
            "trust": self.trust,
            "bundles": self.bundles,
            "records": self.records,
            "bytes": self.bytes,
            "last_bundle": self.last_bundle,
            "trusted_keys": [
                {"key_id": k.key_id, "fingerprint": k.fingerprint} for k in self.keys.values()
            ],
            "rotations": self.rotations,
            "checkpoints": self.checkpoints,
            "newest_checkpoint": self.newest_checkpoint,
            "held_objects": self.held_objects,
            "disposed": self.disposed,
            "findings": [f.__dict__ for f in self.findings],
        }


def verify_stream(
    store: ArchiveStore,
    layout: Layout,
    keys: dict[str, PublicKey],
    *,
    trust: str = "trusted keys",
    deep: bool = False,
    expected_last: int | None = None,
    progress: Callable[[int], None] | None = None,
    check_records: bool = True,
    max_age: timedelta | None = None,
    now: datetime | None = None,
) -> VerifyReport:
    """Verify the stream under the pinned ``keys``, following rotations.

    ``check_records=False`` skips downloading records objects (every other check
    runs). ``max_age`` reports a newest checkpoint older than it as possible
    truncation, measured at ``now`` (default: the system clock).
    """
    report = VerifyReport(stream=layout.stream, trust=trust)
    walk = TrustWalk(dict(keys))
    by_bundle: dict[int, dict[str, list[ObjectVersion]]] = defaultdict(lambda: defaultdict(list))
    for version in store.versions(layout.bundles_prefix):
        parsed = layout.parse_bundle_key(version.key)
        if parsed is None or parsed[1] not in {"manifest.json", "records.jsonl.zst"}:
            report.findings.append(Finding(None, "layout", f"unexpected object {version.key}"))
            continue
        by_bundle[parsed[0]][parsed[1]].append(version)
    last = max(by_bundle, default=0)
    report.last_bundle = last or None
    if expected_last is not None and expected_last > last:
        report.findings.append(
            Finding(None, "gap", f"bundles {last + 1}..{expected_last} are missing from the store")
        )
    sizes = DeclaredSizeCheck(store, layout) if deep else None
    bundles = BundleWalk(store, layout, report, walk, deep, check_records, sizes)
    for number in range(1, last + 1):
        bundles.visit(number, by_bundle.get(number, {}))
        if progress is not None:
            progress(number)
    manifest_shas, absent = bundles.manifest_shas, bundles.absent
    if sizes is not None:
        report.findings += [Finding(n, "blob-size", m) for n, m in sizes.problems()]
    checkpoints = check_checkpoints(
        store, layout, walk.keys, walk.windows, manifest_shas, last, now=now, max_age=max_age
    )
    report.findings += [Finding(None, "checkpoint", p) for p in checkpoints.problems]
    report.disposed, absent_findings = settle_absent(report.events, absent)
    report.findings += absent_findings
    report.held_objects, hold_problems = check_holds(store, report.events)
    report.findings += [Finding(None, "hold", p) for p in hold_problems]
    report.checkpoints, report.newest_checkpoint = checkpoints.count, checkpoints.newest
    report.keys = walk.keys
    report.windows = walk.windows
    if last and bundles.manifest_shas.get(last):
        report.last_manifest_sha256 = bundles.manifest_shas[last]
        report.last_seq = bundles.previous_seq
    return report
