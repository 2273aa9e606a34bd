"""Retention by policy: extending the retention of existing bundles.

Classes and rules are in ``archive.retention_class``; sealing ends a bundle
where the class changes (a bundle is a seq range), so every bundle's objects
carry their class's retain-until and the manifest names the class and the rule.

Retention is extended, never shortened (Object Lock COMPLIANCE refuses that),
for existing bundles with :func:`extend_retention`; the extension is sealed as
a ``retention_extended`` record.
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime

import structlog

from archive.bundle import parse_manifest
from archive.clock import Clock
from archive.codec import format_time
from archive.errors import ConfigError, SealError
from archive.holds import Officer, officer_record
from archive.journal import Journal
from archive.keys import Signer
from archive.model import Kind
from archive.schedule import LEASE
from archive.seal import SealPolicy, seal
from archive.store import ArchiveStore, Retention
from archive.verify import original_version

log = structlog.get_logger("chatkeeper.retention")


@dataclass(frozen=True)
class Extension:
    objects: int  # object versions whose retain-until was moved
    unchanged: int  # already locked at least that long
    missing: int  # disposed or absent objects


def _bundle_objects(store: ArchiveStore, policy: SealPolicy, number: int) -> list[str]:
    layout = policy.layout
    keys = [layout.manifest_key(number), layout.records_key(number)]
    manifest = _first(store, layout.manifest_key(number))
    if manifest is None:
        raise ConfigError(f"bundle {number} is not in the store")
    doc = parse_manifest(store.get(layout.manifest_key(number), manifest))
    return keys + [blob["key"] for blob in doc.get("blobs", [])]


def _first(store: ArchiveStore, key: str) -> str | None:
    version = original_version([v for v in store.versions(key) if v.key == key])
    return None if version is None else version.version_id


def extend_retention(
    journal: Journal,
    store: ArchiveStore,
    signer: Signer,
    policy: SealPolicy,
    bundles: list[int],
    until: datetime,
    who: Officer,
    clock: Clock,
    *,
    holder: str = "chatkeeper-retention",
    lease_seconds: float = 900.0,
) -> Extension:
    """Lock every object of ``bundles`` until at least ``until``; seal the extension."""
    until = until.replace(microsecond=0)
    if until <= who.now:
        raise ConfigError("the new retain-until must be in the future")
    if not journal.acquire_lease(LEASE, holder, who.now, lease_seconds):
        raise SealError("another sealer holds the seal lease; try again shortly")
    try:
        moved = unchanged = missing = 0
        for number in sorted(set(bundles)):
            for key in _bundle_objects(store, policy, number):
                version = _first(store, key)
                if version is None:
                    missing += 1
                    continue
                current = store.retention(key, version)
                if current is not None and current.retain_until >= until:
                    unchanged += 1
                    continue
                mode = current.mode if current is not None else policy.retention_mode
                store.extend_retention(key, version, Retention(mode, until))
                moved += 1
        payload = {
            "action": "extend",
            "bundles": sorted(set(bundles)),
            "retain_until": format_time(until),
            "objects": moved,
            "by": who.name,
            "at": format_time(who.now),
        }
        journal.append(
            [officer_record(policy.layout.stream, "retention", Kind.RETENTION_EXTENDED, payload)]
        )
        seal(journal, store, signer, policy, clock)
    finally:
        journal.release_lease(LEASE, holder)
    log.info("retention.extended", bundles=len(set(bundles)), objects=moved)
    return Extension(moved, unchanged, missing)
