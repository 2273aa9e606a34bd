"""Incremental verification: the bundles sealed since a verified, signed state.

Checks, beside a full ``verify_stream`` run now and then:

- the state's last manifest is still the one verified (same SHA-256, no
  version added beside it), so the chain the new bundles link to is the
  verified one;
- every bundle after it, with every check of the full walk (signature under
  the keys trusted at the state, chain link, records hash, size and Merkle
  root, seqs, locks, and blobs with ``deep``), numbered without gaps up to the
  journal's last sealed bundle when known.

It lists and reads only those bundles' objects, so its cost follows the new
bundles, not the archive's age. Checkpoints, older bundles, legal holds of
open matters and dispositions certified in older bundles are left to the full
check.
"""

from __future__ import annotations

import hashlib
from datetime import datetime

from archive.blob_check import DeclaredSizeCheck
from archive.bundle import Layout
from archive.certificates import settle_absent
from archive.errors import StoreError
from archive.store import ArchiveStore, ObjectVersion
from archive.trust import TrustWalk
from archive.verify import Finding, VerifyReport
from archive.verify_bundles import BundleWalk, original_version, version_problems
from archive.verify_checkpoints import KeyWindows
from archive.verify_state import VerifiedState


def _objects(store: ArchiveStore, layout: Layout, number: int) -> dict[str, list[ObjectVersion]]:
    found: dict[str, list[ObjectVersion]] = {}
    for version in store.versions(layout.bundle_dir(number)):
        parsed = layout.parse_bundle_key(version.key)
        if parsed is not None and parsed[0] == number:
            found.setdefault(parsed[1], []).append(version)
    return found


def _check_anchor(
    store: ArchiveStore, layout: Layout, state: VerifiedState, report: VerifyReport
) -> None:
    """The state's last manifest is still there, alone, with the verified hash."""
    number = state.last_bundle
    objects = _objects(store, layout, number)
    for name, versions in sorted(objects.items()):
        report.findings += [
            Finding(number, "versions", p) for p in version_problems(name, versions)
        ]
    version = original_version(objects.get("manifest.json", []))
    if version is None:
        report.findings.append(Finding(number, "gap", "the last verified bundle is missing"))
        return
    try:
        data = store.get(version.key, version.version_id)
    except StoreError as exc:
        report.findings.append(Finding(number, "read", f"manifest: {exc}"))
        return
    if hashlib.sha256(data).hexdigest() != state.last_manifest_sha256:
        report.findings.append(
            Finding(number, "manifest", "differs from the manifest verified before")
        )


def verify_since(
    store: ArchiveStore,
    layout: Layout,
    state: VerifiedState,
    *,
    trust: str = "trusted keys",
    deep: bool = False,
    expected_last: int | None = None,
) -> VerifyReport:
    """Verify the bundles after ``state`` and their link to it (see the module docstring)."""
    report = VerifyReport(stream=layout.stream, trust=trust)
    walk = TrustWalk(dict(state.keys), KeyWindows(dict(state.retired), dict(state.introduced)))
    if state.last_bundle:
        _check_anchor(store, layout, state, report)
    sizes = DeclaredSizeCheck(store, layout) if deep else None
    bundles = BundleWalk(
        store,
        layout,
        report,
        walk,
        deep,
        True,
        sizes,
        previous_sha=state.last_manifest_sha256,
        previous_seq=state.last_seq,
    )
    number = state.last_bundle
    while True:
        objects = _objects(store, layout, number + 1)
        if not objects and (expected_last is None or number >= expected_last):
            break
        number += 1
        bundles.visit(number, objects)
    if _objects(store, layout, number + 2):  # a bundle after a missing one
        report.findings.append(Finding(number + 1, "gap", f"bundle {number + 1} is missing"))
    if sizes is not None:
        report.findings += [Finding(n, "blob-size", m) for n, m in sizes.problems()]
    report.disposed, absent_findings = settle_absent(report.events, bundles.absent)
    report.findings += absent_findings
    report.last_bundle = number or None
    report.keys = walk.keys
    report.windows = walk.windows
    report.last_manifest_sha256 = bundles.previous_sha
    report.last_seq = bundles.previous_seq
    return report


def state_after(
    report: VerifyReport, before: VerifiedState | None, now: datetime
) -> VerifiedState | None:
    """The state to keep after an intact ``report`` (full, or incremental from ``before``)."""
    if not report.ok or report.last_bundle is None:
        return None
    return VerifiedState(
        stream=report.stream,
        last_bundle=report.last_bundle or 0,
        last_manifest_sha256=report.last_manifest_sha256,
        last_seq=report.last_seq,
        records=report.records + (before.records if before else 0),
        verified_at=now,
        keys=dict(report.keys),
        retired=dict(report.windows.retired),
        introduced=dict(report.windows.introduced),
    )
