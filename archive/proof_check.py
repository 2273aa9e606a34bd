"""Check a ``chatkeeper-proof/1`` file offline, with only the pinned public key(s).

Steps (docs/archive-format.md, "Proof of one message"): the sealed line holds the
record; its audit path leads to the manifest's Merkle root; the manifests carried
(key history, the bundle, the chain after it) verify under keys trusted from the
pin, following key rotations in bundle order; the chain links the bundle's
manifest to the checkpoint's bundle; the checkpoint names that manifest and is
signed by a key allowed to sign it. Any failure is an IntegrityError (exit 3).
"""

from __future__ import annotations

import base64
import binascii
import hashlib
import json
from dataclasses import dataclass
from typing import Any

from archive import merkle
from archive.bundle import check_signature
from archive.checkpoint import FORMAT as CHECKPOINT_FORMAT
from archive.errors import IntegrityError
from archive.keys import PublicKey
from archive.proof import FORMAT
from archive.rotation import check_rotation


@dataclass(frozen=True)
class ProvenRecord:
    stream: str
    bundle: int
    record: dict[str, Any]
    seq: int
    checkpoint: int
    checkpoint_created_at: str


def _bytes(value: Any, what: str) -> bytes:
    try:
        return base64.b64decode(str(value), validate=True)
    except (binascii.Error, ValueError) as exc:
        raise IntegrityError(f"proof: {what} is not base64") from exc


def _json(data: bytes, what: str) -> dict[str, Any]:
    try:
        doc = json.loads(data)
    except ValueError as exc:
        raise IntegrityError(f"proof: {what} is not JSON") from exc
    if not isinstance(doc, dict):
        raise IntegrityError(f"proof: {what} is not a JSON object")
    return doc


class _Keys:
    """Trusted keys along the walk; a key rotated out by bundle R signs nothing after R."""

    def __init__(self, pinned: dict[str, PublicKey]) -> None:
        self.keys = dict(pinned)
        self.retired: dict[str, int] = {}

    def check(self, doc: dict[str, Any], number: int, what: str) -> None:
        problem = check_signature(doc, self.keys)
        if problem:
            raise IntegrityError(f"proof: {what}: {problem}")
        signer = str(doc["signature"]["key_id"])
        if signer in self.retired and number > self.retired[signer]:
            raise IntegrityError(
                f"proof: {what} is signed by key {signer}, rotated out by bundle "
                f"{self.retired[signer]}"
            )

    def follow(self, doc: dict[str, Any], number: int) -> None:
        signer = str(doc["signature"]["key_id"])
        for entry in doc.get("key_rotations", []):
            new, problem = check_rotation(entry, self.keys, signer)
            if new is None:
                raise IntegrityError(f"proof: bundle {number}: {problem}")
            self.keys[new.key_id] = new
            self.retired[signer] = number


def verify_proof(data: bytes, pinned: dict[str, PublicKey]) -> ProvenRecord:
    """Check a proof file's bytes; return what it proves."""
    proof = _json(data, "the file")
    if proof.get("format") != FORMAT:
        raise IntegrityError(f"proof: not a {FORMAT} file")
    number, stream = proof.get("bundle"), proof.get("stream")
    if not isinstance(number, int) or not isinstance(stream, str):
        raise IntegrityError("proof: bundle or stream missing")
    line = _bytes(proof.get("line"), "line")
    sealed = _json(line, "line")
    if set(sealed) != {"record", "seq"} or not isinstance(sealed["record"], dict):
        raise IntegrityError("proof: line is not a sealed record line")
    if sealed["record"].get("key") != proof.get("record_key"):
        raise IntegrityError("proof: the line holds another record than record_key")
    carried: list[tuple[int, bytes, dict[str, Any]]] = []
    for i, text in enumerate(proof.get("key_history", [])):
        raw = _bytes(text, f"key_history[{i}]")
        carried.append((-1, raw, _json(raw, f"key_history[{i}]")))
    raw_manifest = _bytes(proof.get("manifest"), "manifest")
    manifest = _json(raw_manifest, "manifest")
    carried.append((0, raw_manifest, manifest))
    for i, text in enumerate(proof.get("chain", [])):
        raw = _bytes(text, f"chain[{i}]")
        carried.append((1, raw, _json(raw, f"chain[{i}]")))
    if manifest.get("bundle") != number or manifest.get("stream") != stream:
        raise IntegrityError("proof: the manifest is not the bundle the proof names")
    records = manifest.get("records", {})
    path = [bytes.fromhex(h) for h in proof.get("audit_path", [])]
    if proof.get("tree_size") != manifest.get("record_count") or not merkle.verify_inclusion(
        merkle.leaf_hash(line),
        int(proof.get("leaf_index", -1)),
        int(proof.get("tree_size", 0)),
        path,
        bytes.fromhex(str(records.get("merkle_root", ""))),
    ):
        raise IntegrityError("proof: the audit path does not lead to the manifest's Merkle root")
    keys = _Keys(pinned)
    previous = -1
    for _, _raw, doc in carried:  # key history, the bundle, the chain: in bundle order
        at = doc.get("bundle")
        if not isinstance(at, int) or at <= previous or doc.get("stream") != stream:
            raise IntegrityError("proof: carried manifests are not in bundle order of one stream")
        keys.check(doc, at, f"manifest of bundle {at}")
        keys.follow(doc, at)
        previous = at
    last_raw, last_number = raw_manifest, number
    for _, raw, doc in (c for c in carried if c[0] == 1):
        if doc["bundle"] != last_number + 1:
            raise IntegrityError(f"proof: the chain skips from bundle {last_number}")
        if doc.get("previous_manifest_sha256") != hashlib.sha256(last_raw).hexdigest():
            raise IntegrityError(f"proof: chain broken at bundle {doc['bundle']}")
        last_raw, last_number = raw, doc["bundle"]
    checkpoint = _json(_bytes(proof.get("checkpoint"), "checkpoint"), "checkpoint")
    if checkpoint.get("format") != CHECKPOINT_FORMAT or checkpoint.get("stream") != stream:
        raise IntegrityError("proof: the checkpoint is not a checkpoint of this stream")
    if (
        checkpoint.get("last_bundle") != last_number
        or checkpoint.get("last_manifest_sha256") != hashlib.sha256(last_raw).hexdigest()
    ):
        raise IntegrityError("proof: the checkpoint does not name the chain's last manifest")
    keys.check(checkpoint, last_number, "checkpoint")
    return ProvenRecord(
        stream=stream,
        bundle=number,
        record=sealed["record"],
        seq=int(sealed["seq"]),
        checkpoint=int(checkpoint.get("checkpoint", 0)),
        checkpoint_created_at=str(checkpoint.get("created_at")),
    )
