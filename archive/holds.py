"""Legal hold by matter, on S3 Object Lock's own legal hold.

A matter names a scope (conversations, participants, platforms, a time range;
OR within a dimension, AND across them). Creating it turns legal hold ON for
every object that holds an in-scope record: the bundle's records object and
manifest, and the blobs those records reference. Releasing it turns the hold
OFF only on objects no other open matter covers. Every step is a
``hold_changed`` record (``archive.model.Kind.HOLD_CHANGED``), sealed at once,
so the manifests' ``archive_events`` tell a verifier which objects must be held
(``archive.hold_check``). Holds are placed through a separate store handle
(the legal identity); records are sealed through the archiver's.
"""

from __future__ import annotations

from collections.abc import Iterable
from dataclasses import dataclass
from datetime import datetime
from typing import Any

import structlog

from archive.bundle import Layout, parse_manifest
from archive.clock import Clock
from archive.codec import canonical_json, format_time, parse_time
from archive.errors import ConfigError, SealError
from archive.journal import BundleRow, BundleState, Journal
from archive.keys import Signer
from archive.matters import Matter, Scope, matters_from_events
from archive.model import Actor, Kind, Platform, Record, Source, record_key
from archive.read import bundle_numbers
from archive.schedule import LEASE
from archive.seal import SealPolicy, seal
from archive.store import ArchiveStore
from archive.verify import original_version

log = structlog.get_logger("chatkeeper.holds")


_seen: dict[tuple[str, str], tuple[int, list[dict[str, Any]]]] = {}


def archive_events(store: ArchiveStore, layout: Layout) -> list[dict[str, Any]]:
    """The ``archive_events`` of every manifest in the store, in bundle order.

    Manifests never change, so the events of bundles already read are kept per
    bucket and stream, and each call reads only the manifests sealed since.
    """
    cache_key = (store.bucket, layout.bundles_prefix)
    last, events = _seen.get(cache_key, (0, []))
    numbers = bundle_numbers(store, layout)
    if numbers and numbers[-1] < last:
        last, events = 0, []  # another bucket under the same name: start over
    events = list(events)
    for number in (n for n in numbers if n > last):
        key = layout.manifest_key(number)
        version = original_version([v for v in store.versions(key) if v.key == key])
        if version is not None:
            events += parse_manifest(store.get(key, version.version_id)).get("archive_events", [])
        last = number
    _seen[cache_key] = (last, events)
    return events


def load_matters(store: ArchiveStore, layout: Layout) -> dict[str, Matter]:
    return matters_from_events(archive_events(store, layout))


@dataclass(frozen=True)
class Officer:
    """Who acts, and when (every hold, retention and disposition record names both)."""

    name: str
    now: datetime


def officer_record(stream: str, conversation: str, kind: Kind, payload: dict[str, Any]) -> Record:
    """A chatkeeper record of an officer-side operation; its raw payload is the operation."""
    at = parse_time(payload["at"])
    identity = canonical_json(payload).decode()
    return Record(
        key=record_key(Platform.CHATKEEPER.value, stream, conversation, identity),
        platform=Platform.CHATKEEPER,
        workspace=stream,
        conversation=conversation,
        kind=kind,
        source=Source.ADMIN,
        occurred_at=at,
        captured_at=at,
        raw=canonical_json(payload),
        actor=Actor(id=str(payload["by"])),
        details={k: v for k, v in payload.items() if isinstance(v, str | int) and k != "by"},
    )


def covered_objects(
    journal: Journal, store: ArchiveStore, layout: Layout, scope: Scope, rows: list[BundleRow]
) -> list[tuple[str, str, int]]:
    """(key, version, bundle) of every object holding an in-scope record in ``rows``."""
    found: list[tuple[str, str, int]] = []
    for row in rows:
        if row.state is not BundleState.SEALED:
            continue
        blobs: set[str] = set()
        hit = False
        for _, body, occurred_at, conversation, blob_text, _ in journal.bundle_rows(
            layout.stream, row.number
        ):
            if scope.matches(conversation, occurred_at, body):
                hit = True
                blobs.update(blob_text.split())
        if not hit:
            continue
        assert row.records_version and row.manifest_version
        found.append((layout.records_key(row.number), row.records_version, row.number))
        found.append((layout.manifest_key(row.number), row.manifest_version, row.number))
        for digest in sorted(blobs):
            key = layout.blob_key(digest)
            version = original_version([v for v in store.versions(key) if v.key == key])
            if version is not None:
                found.append((key, version.version_id, row.number))
    return found


@dataclass(frozen=True)
class HoldContext:
    """What a hold operation needs: the journal, both store handles, sealing."""

    journal: Journal
    store: ArchiveStore  # the archiver's: seals the hold records
    legal: ArchiveStore  # the legal identity's: turns legal hold on and off
    signer: Signer
    policy: SealPolicy
    clock: Clock
    holder: str = "chatkeeper-hold"
    lease_seconds: float = 900.0

    def record(self, payload: dict[str, Any]) -> Record:
        return officer_record(self.policy.layout.stream, "holds", Kind.HOLD_CHANGED, payload)

    def seal_now(self, records: list[Record]) -> None:
        self.journal.append(records)
        seal(self.journal, self.store, self.signer, self.policy, self.clock)


def _hold(
    ctx: HoldContext, matter: str, objects: list[tuple[str, str, int]], who: Officer
) -> list[Record]:
    records = []
    for key, version, bundle in objects:
        ctx.legal.set_legal_hold(key, version, True)
        records.append(
            ctx.record(
                {
                    "action": "object_held",
                    "matter": matter,
                    "key": key,
                    "version_id": version,
                    "bundle": bundle,
                    "by": who.name,
                    "at": format_time(who.now),
                }
            )
        )
    return records


def _leased(ctx: HoldContext) -> None:
    if not ctx.journal.acquire_lease(LEASE, ctx.holder, ctx.clock.now(), ctx.lease_seconds):
        raise SealError("another sealer holds the seal lease; try again shortly")


def create_hold(ctx: HoldContext, matter: str, scope: Scope, who: Officer) -> Matter:
    """Open ``matter``: hold every covered object, seal the create and each hold.

    Run again for an open matter with the same scope, it holds (and records) only the
    covered objects not yet held, for example after a failed seal-time hold.
    """
    if not matter or "/" in matter:
        raise ConfigError("a matter name must be non-empty and without '/'")
    _leased(ctx)
    try:
        existing = load_matters(ctx.store, ctx.policy.layout).get(matter)
        records = []
        if existing is not None and existing.open:
            if existing.scope.to_dict() != scope.to_dict():
                raise ConfigError(
                    f"matter {matter!r} is already open (since {existing.created_at}) "
                    "with another scope"
                )
        else:
            create = {"action": "create", "matter": matter, "scope": scope.to_dict()}
            records.append(ctx.record({**create, "by": who.name, "at": format_time(who.now)}))
        layout = ctx.policy.layout
        objects = covered_objects(
            ctx.journal, ctx.legal, layout, scope, ctx.journal.bundles(layout.stream)
        )
        if existing is not None and existing.open:  # again, same scope: hold what is missing
            objects = [o for o in objects if (o[0], o[1]) not in existing.objects]
        records += _hold(ctx, matter, objects, who)
        if records:
            ctx.seal_now(records)
    finally:
        ctx.journal.release_lease(LEASE, ctx.holder)
    log.info("hold.created", matter=matter, objects=len(objects))
    return load_matters(ctx.store, ctx.policy.layout)[matter]


def release_hold(ctx: HoldContext, matter: str, who: Officer) -> tuple[int, int]:
    """Close ``matter``; (objects released, objects kept held by other open matters)."""
    _leased(ctx)
    try:
        matters = load_matters(ctx.store, ctx.policy.layout)
        current = matters.get(matter)
        if current is None or not current.open:
            raise ConfigError(f"no open matter {matter!r}")
        others = {obj for m in matters.values() if m.open and m.name != matter for obj in m.objects}
        at = format_time(who.now)
        records = []
        released = 0
        for key, version in sorted(current.objects):
            if (key, version) in others:
                continue
            ctx.legal.set_legal_hold(key, version, False)
            released += 1
            records.append(
                ctx.record(
                    {
                        "action": "object_released",
                        "matter": matter,
                        "key": key,
                        "version_id": version,
                        "by": who.name,
                        "at": at,
                    }
                )
            )
        records.append(
            ctx.record({"action": "release", "matter": matter, "by": who.name, "at": at})
        )
        ctx.seal_now(records)
    finally:
        ctx.journal.release_lease(LEASE, ctx.holder)
    log.info("hold.released", matter=matter, objects=released)
    return released, len(current.objects) - released


def hold_new_bundles(ctx: HoldContext, bundles: Iterable[BundleRow], who: Officer) -> int:
    """Put the open matters' holds on newly sealed bundles in their scope; seal those records.

    Called right after sealing, under the same seal lease. Returns the objects held.
    """
    rows = list(bundles)
    if not rows:
        return 0
    layout = ctx.policy.layout
    records: list[Record] = []
    for matter in load_matters(ctx.store, layout).values():
        if matter.open:
            objects = covered_objects(ctx.journal, ctx.legal, layout, matter.scope, rows)
            records += _hold(ctx, matter.name, objects, who)
    if records:
        ctx.seal_now(records)
        log.info("hold.placed_at_seal", objects=len(records))
    return len(records)
