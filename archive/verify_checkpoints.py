"""Verify a stream's checkpoints: numbering, chain, signatures, locks, and the tail.

Run by ``archive.verify.verify_stream`` after the bundle walk, with the keys the
walk trusted and the SHA-256 of every manifest it read. A checkpoint that names
a bundle the store no longer has means the tail was removed; a newest checkpoint
older than ``max_age`` means the stream may have been truncated (its newer
checkpoints removed with the bundles) or sealing has stopped.
"""

from __future__ import annotations

import hashlib
import json
from dataclasses import dataclass, field
from datetime import UTC, datetime, timedelta
from typing import Any

from archive.bundle import Layout, check_signature
from archive.checkpoint import FORMAT
from archive.codec import parse_time
from archive.errors import StoreError
from archive.keys import PublicKey
from archive.store import ArchiveStore, ObjectVersion

_FIELDS: dict[str, type | tuple[type, ...]] = {
    "stream": str,
    "checkpoint": int,
    "created_at": str,
    "last_bundle": int,
    "last_manifest_sha256": (str, type(None)),
    "previous_checkpoint_sha256": (str, type(None)),
    "retention": dict,
    "signature": dict,
}


@dataclass
class KeyWindows:
    """Which checkpoints each trusted key may sign, from the rotations the walk followed.

    A key rotated out by bundle R signs checkpoints naming bundles up to R; a key
    introduced by bundle R signs checkpoints naming R or later.
    """

    retired: dict[str, int] = field(default_factory=dict)
    introduced: dict[str, int] = field(default_factory=dict)

    def problem(self, key_id: str, last_bundle: int) -> str | None:
        if key_id in self.retired and last_bundle > self.retired[key_id]:
            return f"signed by key {key_id}, rotated out by bundle {self.retired[key_id]}"
        if key_id in self.introduced and last_bundle < self.introduced[key_id]:
            return f"signed by key {key_id}, introduced only by bundle {self.introduced[key_id]}"
        return None


@dataclass
class CheckpointResult:
    problems: list[str] = field(default_factory=list)
    count: int = 0
    newest: dict[str, Any] | None = None


def _parse(data: bytes) -> dict[str, Any] | str:
    try:
        doc = json.loads(data)
    except ValueError as exc:
        return f"is not valid JSON: {exc}"
    if not isinstance(doc, dict) or doc.get("format") != FORMAT:
        return f"is not a {FORMAT} object"
    wrong = [name for name, kind in _FIELDS.items() if not isinstance(doc.get(name), kind)]
    return f"fields missing or malformed: {', '.join(wrong)}" if wrong else doc


def _lock_problem(store: ArchiveStore, key: str, version: str, doc: dict[str, Any]) -> str | None:
    wanted = doc["retention"]
    current = store.retention(key, version)
    if current is None:
        return "is not locked"
    if current.mode != wanted.get("mode") or current.retain_until < parse_time(
        str(wanted.get("retain_until"))
    ):
        return f"is locked {current.mode} until {current.retain_until.isoformat()}, not as it says"
    return None


def check_checkpoints(
    store: ArchiveStore,
    layout: Layout,
    keys: dict[str, PublicKey],
    windows: KeyWindows,
    manifest_shas: dict[int, str],
    last_bundle: int,
    *,
    now: datetime | None = None,
    max_age: timedelta | None = None,
) -> CheckpointResult:
    result = CheckpointResult()
    found: dict[int, list[ObjectVersion]] = {}
    for version in store.versions(layout.checkpoints_prefix):
        number = layout.parse_checkpoint_key(version.key)
        if number is None:
            result.problems.append(f"unexpected object {version.key}")
            continue
        found.setdefault(number, []).append(version)
    if not found:
        result.problems.append(
            "the stream has no checkpoint: a removed tail cannot be told from an idle stream "
            "(chatkeeper seal writes one)"
        )
        return result
    previous_sha: str | None = None
    named = 0
    newest: dict[str, Any] | None = None
    for number in range(1, max(found) + 1):
        versions = found.get(number, [])
        real = [v for v in versions if not v.is_delete_marker]
        where = f"checkpoint {number}"
        if len(real) != len(versions):
            result.problems.append(f"{where} has a delete marker (someone tried to delete it)")
        if len(real) > 1:
            result.problems.append(f"{where} has extra versions written after sealing")
        if not real:
            result.problems.append(f"{where} is missing")
            previous_sha = None
            continue
        try:
            data = store.get(real[0].key, real[0].version_id)
            parsed = _parse(data)
            lock = (
                _lock_problem(store, real[0].key, real[0].version_id, parsed)
                if isinstance(parsed, dict)
                else None
            )
        except StoreError as exc:
            result.problems.append(f"{where} could not be read: {exc}")
            previous_sha = None
            continue
        result.count += 1
        sha = hashlib.sha256(data).hexdigest()
        if isinstance(parsed, str):
            result.problems.append(f"{where} {parsed}")
            previous_sha = sha
            continue
        doc = parsed
        problems = [lock] if lock else []
        if doc["stream"] != layout.stream or doc["checkpoint"] != number:
            problems.append(f"claims checkpoint {doc['checkpoint']} of {doc['stream']!r}")
        signature = check_signature(doc, keys)
        if signature is None:
            signature = windows.problem(str(doc["signature"].get("key_id")), doc["last_bundle"])
        if signature:
            problems.append(signature)
        if number > 1 and doc["previous_checkpoint_sha256"] != previous_sha:
            problems.append("chain broken: previous_checkpoint_sha256 does not match")
        if newest is not None:
            if doc["last_bundle"] < newest["last_bundle"]:
                problems.append("names an earlier bundle than the checkpoint before it")
            if doc["created_at"] < newest["created_at"]:
                problems.append("is older than the checkpoint before it")
        last = doc["last_bundle"]
        if (
            0 < last <= last_bundle
            and manifest_shas.get(last, doc["last_manifest_sha256"]) != doc["last_manifest_sha256"]
        ):
            problems.append(f"bundle {last}'s manifest is not the one this checkpoint names")
        named = max(named, last)
        result.problems += [f"{where} {p}" for p in problems]
        previous_sha = sha
        newest = {"number": number, "created_at": doc["created_at"], "last_bundle": last}
    if named > last_bundle:
        result.problems.append(
            f"a checkpoint names bundle {named} but the store's last bundle is {last_bundle or 0}: "
            f"bundle(s) {last_bundle + 1}..{named} were removed"
        )
    result.newest = newest
    if newest is not None and max_age is not None:
        age = (now or datetime.now(UTC)) - parse_time(newest["created_at"])
        if age > max_age:
            result.problems.append(
                f"the newest checkpoint ({newest['number']}, {newest['created_at']}) is "
                f"{_span(age)} old, more than the maximum age {_span(max_age)}: the stream may "
                "have been truncated (its newest bundles and checkpoints removed), or sealing "
                "has stopped"
            )
    return result


def _span(delta: timedelta) -> str:
    seconds = int(delta.total_seconds())
    if seconds >= 2 * 86_400:
        return f"{seconds / 86_400:.1f} days"
    if seconds >= 3600:
        return f"{seconds / 3600:.1f} h"
    return f"{seconds} s"
