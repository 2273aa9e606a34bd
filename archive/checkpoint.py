"""Checkpoints ``chatkeeper-checkpoint/1``: a signed, chained heartbeat of the stream.

Like CloudTrail's hourly digest files, a checkpoint is sealed after new bundles
and at least once per checkpoint interval even when nothing happened. Each names
the stream's last bundle and that manifest's SHA-256, and the SHA-256 of the
previous checkpoint. From the bucket and the public key alone a verifier can then
tell "the last bundle was removed" (a checkpoint names a bundle that is gone, or
the newest checkpoint is too old) from "nothing happened" (fresh checkpoints).
"""

from __future__ import annotations

import hashlib
import json
from dataclasses import dataclass
from datetime import datetime, timedelta
from typing import Any

import structlog

from archive.bundle import Layout, sign_document
from archive.codec import format_time, parse_time
from archive.errors import StoreConflictError
from archive.keys import Signer
from archive.store import ArchiveStore, Retention

FORMAT = "chatkeeper-checkpoint/1"
log = structlog.get_logger("chatkeeper.checkpoint")


@dataclass(frozen=True)
class Checkpoint:
    number: int
    created_at: datetime
    last_bundle: int
    sha256: str  # of the checkpoint object's bytes


def _exists(store: ArchiveStore, key: str) -> str | None:
    """The first version id of ``key``, or None."""
    for version in store.versions(key):
        if version.key == key and not version.is_delete_marker:
            return version.version_id
    return None


_hints: dict[tuple[str, str], int] = {}


def newest_number(store: ArchiveStore, layout: Layout) -> int:
    """The highest checkpoint number present (0 if none), probing rather than listing.

    Checkpoints run 1..n, so a gallop then a binary search over existence finds n in
    about 2·log2(n) small requests; the last answer is kept as the next start.
    """

    def exists(number: int) -> bool:
        return _exists(store, layout.checkpoint_key(number)) is not None

    low = _hints.get((store.bucket, layout.checkpoints_prefix), 0)
    if low and not exists(low):
        low = 0
    step = 1
    high = low + step
    while exists(high):
        low, step = high, step * 2
        high = low + step
    while high - low > 1:  # low exists (or is 0), high does not
        middle = (low + high) // 2
        low, high = (middle, high) if exists(middle) else (low, middle)
    _hints[(store.bucket, layout.checkpoints_prefix)] = low
    return low


def read_checkpoint(store: ArchiveStore, layout: Layout, number: int) -> Checkpoint | None:
    key = layout.checkpoint_key(number)
    version = _exists(store, key)
    if version is None:
        return None
    data = store.get(key, version)
    doc = json.loads(data)
    return Checkpoint(
        number,
        parse_time(doc["created_at"]),
        int(doc["last_bundle"]),
        hashlib.sha256(data).hexdigest(),
    )


def build_checkpoint(
    *,
    stream: str,
    number: int,
    created_at: datetime,
    last_bundle: int,
    last_manifest_sha256: str | None,
    previous_checkpoint_sha256: str | None,
    retention: Retention,
) -> dict[str, Any]:
    """The unsigned checkpoint body."""
    return {
        "format": FORMAT,
        "stream": stream,
        "checkpoint": number,
        "created_at": format_time(created_at),
        "last_bundle": last_bundle,
        "last_manifest_sha256": last_manifest_sha256,
        "previous_checkpoint_sha256": previous_checkpoint_sha256,
        "retention": {"mode": retention.mode, "retain_until": format_time(retention.retain_until)},
    }


def checkpoint_due(
    store: ArchiveStore, layout: Layout, now: datetime, interval: timedelta
) -> tuple[bool, Checkpoint | None]:
    """(due, newest): due when there is no checkpoint or the newest is ``interval`` old."""
    number = newest_number(store, layout)
    newest = read_checkpoint(store, layout, number) if number else None
    return newest is None or now - newest.created_at >= interval, newest


def write_checkpoint(
    store: ArchiveStore,
    layout: Layout,
    signer: Signer,
    *,
    now: datetime,
    last_bundle: int,
    last_manifest_sha256: str | None,
    retention: Retention,
) -> Checkpoint:
    """Seal the next checkpoint after the newest one in the store."""
    number = newest_number(store, layout)
    previous = read_checkpoint(store, layout, number) if number else None
    if previous is not None and previous.last_bundle > last_bundle:
        raise StoreConflictError(
            f"checkpoint {number} names bundle {previous.last_bundle}, "
            f"but the journal's last sealed bundle is {last_bundle}"
        )
    data = sign_document(
        build_checkpoint(
            stream=layout.stream,
            number=number + 1,
            created_at=now,
            last_bundle=last_bundle,
            last_manifest_sha256=last_manifest_sha256,
            previous_checkpoint_sha256=previous.sha256 if previous else None,
            retention=retention,
        ),
        signer,
    )
    key = layout.checkpoint_key(number + 1)
    store.put(key, data, sha256_hex=hashlib.sha256(data).hexdigest(), retention=retention)
    _hints[(store.bucket, layout.checkpoints_prefix)] = number + 1
    log.info("checkpoint.sealed", stream=layout.stream, checkpoint=number + 1, bundle=last_bundle)
    return Checkpoint(number + 1, now, last_bundle, hashlib.sha256(data).hexdigest())
