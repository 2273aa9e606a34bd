"""Defensible disposition: delete expired, unheld records objects and blobs; certify it.

A records object is disposable when its version's retain-until (as S3 reports
it, so extensions count) has passed and it carries no legal hold and no open
matter covers it. A blob is disposable when, in addition, every bundle that
references it is disposed or being disposed. Manifests are never deleted: they
hold no message content and keep the hash chain whole.

The certificate (a ``disposition`` record on the ``chatkeeper`` platform, listed
in its manifest's ``archive_events``) is sealed *before* the versions are
deleted, through the archiver's identity; the plan (manifests, retention, legal
holds) is read and the deletions run through the disposition identity, so the
archiver needs neither legal-hold reads nor deletes. A crash in between leaves certified objects still
present: they verify normally, and the next ``dispose`` deletes them.
``verify`` treats an object a certificate names as legitimately absent
("disposed") and any other absence as tampering.
"""

from __future__ import annotations

import io
import json
from collections import Counter
from dataclasses import asdict, dataclass, field
from datetime import datetime
from typing import Any

import structlog

from archive.bundle import Layout, iter_lines, parse_manifest
from archive.certificates import disposed_objects
from archive.clock import Clock
from archive.codec import format_time
from archive.errors import SealError
from archive.holds import Officer, archive_events, officer_record
from archive.journal import Journal
from archive.keys import Signer
from archive.matters import matters_from_events
from archive.model import Kind
from archive.read import bundle_numbers
from archive.schedule import LEASE
from archive.seal import SealPolicy, seal
from archive.store import ArchiveStore
from archive.verify import original_version

log = structlog.get_logger("chatkeeper.disposition")


@dataclass(frozen=True)
class DisposedObject:
    key: str
    version_id: str
    sha256: str
    retain_until: str
    bundle: int | None = None  # records objects
    bundles: tuple[int, ...] = ()  # blobs: every bundle that references it
    record_count: int = 0
    conversations: dict[str, int] = field(default_factory=dict)  # records per conversation
    retention_class: str | None = None
    rule: str | None = None


@dataclass
class DispositionPlan:
    now: datetime
    records: list[DisposedObject] = field(default_factory=list)
    blobs: list[DisposedObject] = field(default_factory=list)
    pending: list[tuple[str, str]] = field(default_factory=list)  # certified, still present

    def to_json(self) -> dict[str, Any]:
        return {
            "as_of": format_time(self.now),
            "records_objects": [asdict(o) for o in self.records],
            "blobs": [asdict(o) for o in self.blobs],
            "certified_pending": [{"key": k, "version_id": v} for k, v in self.pending],
        }


def _first(store: ArchiveStore, key: str) -> str | None:
    version = original_version([v for v in store.versions(key) if v.key == key])
    return None if version is None else version.version_id


def _expired_unheld(
    store: ArchiveStore, key: str, version: str, now: datetime, held: set[tuple[str, str]]
) -> str | None:
    """The retain-until (text) if the version may go, else None."""
    if (key, version) in held:
        return None
    retention = store.retention(key, version)
    if retention is not None and retention.retain_until > now:
        return None
    if store.legal_hold(key, version):
        return None
    return format_time(retention.retain_until) if retention else "none"


def _counts(store: ArchiveStore, key: str, version: str) -> dict[str, int]:
    counts: Counter[str] = Counter()
    for line in iter_lines(io.BytesIO(store.get(key, version))):
        record = json.loads(line)["record"]
        counts[f"{record['platform']}:{record['workspace']}:{record['conversation']}"] += 1
    return dict(sorted(counts.items()))


def plan_disposition(store: ArchiveStore, layout: Layout, now: datetime) -> DispositionPlan:
    """What may be disposed of at ``now`` (reads only: the auditor's identity suffices)."""
    events = archive_events(store, layout)
    held = {o for m in matters_from_events(events).values() if m.open for o in m.objects}
    certified = disposed_objects(events)
    plan = DispositionPlan(now)
    blob_refs: dict[str, list[int]] = {}
    going: set[int] = set()
    gone: set[int] = set()
    for number in bundle_numbers(store, layout):
        manifest_version = _first(store, layout.manifest_key(number))
        if manifest_version is None:
            continue
        doc = parse_manifest(store.get(layout.manifest_key(number), manifest_version))
        for blob in doc.get("blobs", []):
            blob_refs.setdefault(blob["key"], []).append(number)
        spec = doc["records"]
        key, version = spec["key"], spec["version_id"]
        if version not in {v.version_id for v in store.versions(key) if v.key == key}:
            gone.add(number)  # absent: disposed before (verify says whether legitimately)
            continue
        if (key, version) in certified:
            plan.pending.append((key, version))
            going.add(number)
            continue
        until = _expired_unheld(store, key, version, now, held)
        if until is None:
            continue
        going.add(number)
        plan.records.append(
            DisposedObject(
                key,
                version,
                spec["sha256"],
                until,
                bundle=number,
                record_count=int(doc["record_count"]),
                conversations=_counts(store, key, version),
                retention_class=doc["retention"].get("class"),
                rule=doc["retention"].get("rule", "default"),
            )
        )
    for key, bundles in sorted(blob_refs.items()):
        if not set(bundles) <= going | gone:
            continue
        version = _first(store, key)
        if version is None:
            continue
        if (key, version) in certified:
            plan.pending.append((key, version))
            continue
        until = _expired_unheld(store, key, version, now, held)
        if until is not None:
            digest = key.rpartition("/")[2]
            plan.blobs.append(DisposedObject(key, version, digest, until, bundles=tuple(bundles)))
    return plan


@dataclass(frozen=True)
class Certificate:
    payload: dict[str, Any]
    deleted: int


def dispose(
    journal: Journal,
    store: ArchiveStore,
    disposer: ArchiveStore,
    signer: Signer,
    policy: SealPolicy,
    clock: Clock,
    who: Officer,
    *,
    holder: str = "chatkeeper-dispose",
    lease_seconds: float = 900.0,
) -> Certificate | None:
    """Seal a certificate for the current plan, then delete its versions (None: nothing to do)."""
    if not journal.acquire_lease(LEASE, holder, clock.now(), lease_seconds):
        raise SealError("another sealer holds the seal lease; try again shortly")
    try:
        plan = plan_disposition(disposer, policy.layout, clock.now())
        payload: dict[str, Any] | None = None
        if plan.records or plan.blobs:
            payload = {
                "action": "dispose",
                **{k: v for k, v in plan.to_json().items() if k != "certified_pending"},
                "by": who.name,
                "at": format_time(who.now),
            }
            record = officer_record(policy.layout.stream, "disposition", Kind.DISPOSITION, payload)
            journal.append([record])
            seal(journal, store, signer, policy, clock)
        targets = [(o.key, o.version_id) for o in plan.records + plan.blobs] + plan.pending
        for key, version in targets:
            disposer.delete_version(key, version)
            log.info("disposition.deleted", key=key, version=version)
    finally:
        journal.release_lease(LEASE, holder)
    if payload is None and not targets:
        return None
    return Certificate(payload or {}, len(targets))
