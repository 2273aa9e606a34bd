"""Signing key rotation: a ``key_rotated`` record, signed by the old key, sealed under it.

The record's raw payload is canonical JSON::

    {"new_key": {"alg","key_id","public_key"}, "old_key_id": "...",
     "signature": <base64 Ed25519 by the OLD key over canonical JSON of new_key>}

The bundle that holds it lists the same payload in its manifest's
``key_rotations``, so a verifier learns the new key without downloading records.
A verifier that trusts the old key trusts the new one from the next bundle on,
and no longer accepts the old key's signature on later bundles.
"""

from __future__ import annotations

import base64
from dataclasses import dataclass
from datetime import datetime
from pathlib import Path
from typing import Any

from archive.clock import Clock
from archive.codec import canonical_json
from archive.errors import ConfigError, SealError
from archive.journal import SealerJournal
from archive.keys import (
    PublicKey,
    Signer,
    activate_pending,
    load_or_create_pending,
    load_or_create_signer,
)
from archive.model import Actor, Kind, Platform, Record, Source, record_key
from archive.schedule import LEASE  # no sealer runs while a rotation is in progress
from archive.seal import SealPolicy, publish_key, seal
from archive.store import ArchiveStore


def rotation_payload(old: Signer, new: PublicKey) -> dict[str, Any]:
    signature = old.sign(canonical_json(new.to_dict()))
    return {
        "new_key": new.to_dict(),
        "old_key_id": old.public.key_id,
        "signature": base64.b64encode(signature).decode("ascii"),
    }


def rotation_record(stream: str, old: Signer, new: PublicKey, now: datetime) -> Record:
    """The ``key_rotated`` record announcing ``new`` under ``old``."""
    payload = rotation_payload(old, new)
    return Record(
        key=record_key(Platform.CHATKEEPER.value, stream, "key_rotated", new.key_id),
        platform=Platform.CHATKEEPER,
        workspace=stream,
        conversation="keys",
        kind=Kind.KEY_ROTATED,
        source=Source.ADMIN,
        occurred_at=now,
        captured_at=now,
        raw=canonical_json(payload),
        actor=Actor(id="chatkeeper keys rotate"),
        text=f"signing key {old.public.key_id} rotated to {new.key_id}",
        details={
            "old_key_id": old.public.key_id,
            "new_key_id": new.key_id,
            "new_key_fingerprint": new.fingerprint,
        },
    )


def check_rotation(
    entry: Any, trusted: dict[str, PublicKey], bundle_signer: str
) -> tuple[PublicKey | None, str | None]:
    """(the new key, None) if ``entry`` is a valid rotation by the bundle's trusted signer."""
    if not isinstance(entry, dict) or set(entry) != {"new_key", "old_key_id", "signature"}:
        return None, "key rotation entry is malformed"
    try:
        new = PublicKey.from_dict(entry["new_key"])
        value = base64.b64decode(str(entry["signature"]), validate=True)
    except (ConfigError, ValueError) as exc:
        return None, f"key rotation entry is unreadable: {exc}"
    old = trusted.get(str(entry["old_key_id"]))
    if old is None or old.key_id != bundle_signer:
        return None, (
            f"key rotation to {new.key_id} is by key {entry['old_key_id']!r}, "
            "not by the trusted key that signed this bundle"
        )
    if entry["new_key"] != new.to_dict() or not old.verify(value, canonical_json(new.to_dict())):
        return None, f"key rotation to {new.key_id}: the old key's signature does not verify"
    return new, None


@dataclass(frozen=True)
class RotationResult:
    old: PublicKey
    new: PublicKey
    bundle: int | None  # the bundle that holds the key_rotated record


def rotate_key(
    journal: SealerJournal,
    store: ArchiveStore,
    key_dir: Path,
    policy: SealPolicy,
    clock: Clock,
    *,
    holder: str,
    lease_seconds: float = 900.0,
) -> RotationResult:
    """Create the next key, seal its ``key_rotated`` record under the old one, switch.

    Resumable: a crash leaves the pending key and (maybe) the record; running
    again reuses both, seals, and switches.
    """
    if not journal.acquire_lease(LEASE, holder, clock.now(), lease_seconds):
        raise SealError("another sealer holds the seal lease; try the rotation again shortly")
    try:
        old = load_or_create_signer(key_dir)
        new = load_or_create_pending(key_dir)
        record = rotation_record(policy.layout.stream, old, new.public, clock.now())
        journal.append([record])
        seal(journal, store, old, policy, clock)
        last = journal.stats(policy.layout.stream)
        if last.unsealed:
            raise SealError("the key_rotated record is not sealed yet; run the rotation again")
        activated = activate_pending(key_dir)
        publish_key(store, activated, policy, clock)
    finally:
        journal.release_lease(LEASE, holder)
    bundle = last.last_sealed.number if last.last_sealed else None
    return RotationResult(old.public, activated.public, bundle)
