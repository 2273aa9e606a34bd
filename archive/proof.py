"""Proof of one message, ``chatkeeper-proof/1``: a self-contained file checked offline.

A proof carries the record's sealed line (its canonical bytes), the RFC 6962
audit path from that line to the bundle's Merkle root, the signed manifest, the
signed manifests after it up to the newest checkpoint's bundle (the hash chain),
the newest signed checkpoint, and the earlier signed manifests that rotated the
signing key (so a verifier that pins an older key can follow the rotations).
docs/archive-format.md is the normative description; ``archive.proof_check``
checks a proof with nothing but the pinned public key.
"""

from __future__ import annotations

import base64
import hashlib
import io
import json
from collections.abc import Iterator, Mapping
from dataclasses import dataclass
from typing import Any

from archive import merkle
from archive.bundle import Layout, iter_lines, parse_manifest
from archive.checkpoint import newest_number
from archive.errors import IntegrityError, StoreError
from archive.read import bundle_numbers
from archive.store import ArchiveStore
from archive.verify import original_version

FORMAT = "chatkeeper-proof/1"


@dataclass(frozen=True)
class Target:
    """Which record to prove: by key, or by platform, conversation and message id."""

    record_key: str | None = None
    platform: str | None = None
    conversation: str | None = None
    message_id: str | None = None

    def conversation_matches(self, conversations: list[str]) -> bool:
        if self.record_key is not None:
            return True
        return any(
            c.startswith(f"{self.platform}:") and c.endswith(f":{self.conversation}")
            for c in conversations
        )

    def line_matches(self, line: bytes) -> bool:
        record = json.loads(line)["record"]
        if self.record_key is not None:
            return bool(record.get("key") == self.record_key)
        return bool(
            record.get("platform") == self.platform
            and record.get("conversation") == self.conversation
            and record.get("message_id") == self.message_id
            and record.get("kind") == "message"
        )


def _b64(data: bytes) -> str:
    return base64.b64encode(data).decode("ascii")


def _first_version_bytes(store: ArchiveStore, key: str) -> bytes | None:
    version = original_version([v for v in store.versions(key) if v.key == key])
    return None if version is None else store.get(key, version.version_id)


def _records_lines(store: ArchiveStore, doc: dict[str, Any]) -> list[bytes]:
    spec = doc["records"]
    try:
        data = store.get(spec["key"], spec["version_id"])
    except StoreError as exc:
        raise IntegrityError(f"bundle {doc['bundle']}: records object unreadable: {exc}") from exc
    if hashlib.sha256(data).hexdigest() != spec["sha256"]:
        raise IntegrityError(f"bundle {doc['bundle']}: records object does not match its manifest")
    return list(iter_lines(io.BytesIO(data)))


def _node(left: bytes, right: bytes) -> bytes:
    return hashlib.sha256(b"\x01" + left + right).digest()


def tree_levels(leaves: list[bytes]) -> list[list[bytes]]:
    """Every level of the RFC 6962 tree, bottom-up (an odd last node is promoted as is)."""
    levels = [leaves]
    while len(levels[-1]) > 1:
        level = levels[-1]
        paired = [_node(level[i], level[i + 1]) for i in range(0, len(level) - 1, 2)]
        if len(level) % 2:
            paired.append(level[-1])
        levels.append(paired)
    return levels


def audit_path(levels: list[list[bytes]], index: int) -> list[bytes]:
    """The RFC 6962 audit path of leaf ``index``, leaf side first, from precomputed levels.

    The same path as ``merkle.inclusion_proof`` in O(log n) per leaf instead of O(n).
    """
    path = []
    for level in levels[:-1]:
        sibling = index ^ 1
        if sibling < len(level):
            path.append(level[sibling])
        index //= 2
    return path


class Prover:
    """Builds proofs from one store, reading each manifest and the checkpoint once."""

    def __init__(self, store: ArchiveStore, layout: Layout) -> None:
        self.store = store
        self.layout = layout
        self._manifests: dict[int, bytes] = {}
        self._checkpoint: bytes | None = None

    def manifest(self, number: int) -> bytes:
        if number not in self._manifests:
            data = _first_version_bytes(self.store, self.layout.manifest_key(number))
            if data is None:
                raise IntegrityError(f"bundle {number}'s manifest is missing")
            self._manifests[number] = data
        return self._manifests[number]

    def checkpoint(self) -> bytes:
        if self._checkpoint is None:
            number = newest_number(self.store, self.layout)
            if number == 0:
                raise IntegrityError("the stream has no checkpoint yet: run chatkeeper seal first")
            data = _first_version_bytes(self.store, self.layout.checkpoint_key(number))
            assert data is not None
            self._checkpoint = data
        return self._checkpoint

    def find(self, target: Target, numbers: list[int]) -> dict[str, Any]:
        """The proof of the first sealed record ``target`` matches in bundles ``numbers``."""
        for number in numbers:
            doc = parse_manifest(self.manifest(number))
            if not target.conversation_matches(list(doc.get("conversations", []))):
                continue
            try:
                lines = _records_lines(self.store, doc)
            except IntegrityError:
                continue  # disposed or unreadable: no proof can come from this bundle
            for index, line in enumerate(lines):
                if target.line_matches(line):
                    return self.assemble(number, lines, [index])[0]
        raise IntegrityError("no sealed record matches: nothing to prove")

    def prove_keys(self, number: int, keys: set[str]) -> list[dict[str, Any]]:
        """Proofs of the records with these keys in bundle ``number`` (one download)."""
        lines = _records_lines(self.store, parse_manifest(self.manifest(number)))
        indexes = [i for i, line in enumerate(lines) if json.loads(line)["record"]["key"] in keys]
        return self.assemble(number, lines, indexes)

    def proof_files(self, wanted: Mapping[int, set[str]]) -> Iterator[tuple[str, bytes]]:
        """(record key, proof file bytes) of ``wanted`` ({bundle: record keys}), one download
        per bundle: what ``export --with-proofs`` writes under ``proofs/``."""
        for number in sorted(wanted):
            for proof in self.prove_keys(number, wanted[number]):
                yield proof["record_key"], proof_bytes(proof)

    def assemble(self, number: int, lines: list[bytes], indexes: list[int]) -> list[dict[str, Any]]:
        levels = tree_levels([merkle.leaf_hash(line) for line in lines])
        checkpoint = self.checkpoint()
        last = int(json.loads(checkpoint)["last_bundle"])
        if last < number:
            raise IntegrityError(
                f"the newest checkpoint names bundle {last}, before bundle {number}: seal first"
            )
        key_history = [
            _b64(self.manifest(n))
            for n in range(1, number)
            if parse_manifest(self.manifest(n)).get("key_rotations")
        ]
        chain = [_b64(self.manifest(n)) for n in range(number + 1, last + 1)]
        proofs = []
        for index in indexes:
            proofs.append(
                {
                    "format": FORMAT,
                    "stream": self.layout.stream,
                    "bundle": number,
                    "record_key": json.loads(lines[index])["record"]["key"],
                    "line": _b64(lines[index]),
                    "leaf_index": index,
                    "tree_size": len(lines),
                    "audit_path": [h.hex() for h in audit_path(levels, index)],
                    "manifest": _b64(self.manifest(number)),
                    "chain": chain,
                    "checkpoint": _b64(checkpoint),
                    "key_history": key_history,
                }
            )
        return proofs


def build_proof(
    store: ArchiveStore, layout: Layout, target: Target, *, bundle_hint: int | None = None
) -> dict[str, Any]:
    """The proof document for ``target`` (IntegrityError if it is not in the archive)."""
    numbers = bundle_numbers(store, layout)
    if bundle_hint is not None and bundle_hint in numbers:
        numbers = [bundle_hint, *(n for n in numbers if n != bundle_hint)]
    return Prover(store, layout).find(target, numbers)


def proof_bytes(proof: dict[str, Any]) -> bytes:
    """The proof file's bytes (indented JSON, one trailing newline)."""
    return (json.dumps(proof, indent=2, sort_keys=True) + "\n").encode("utf-8")
