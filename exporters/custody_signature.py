"""The custody manifest's signature: ``export-manifest.sig.json`` and its check.

The custody manifest can list millions of files and is written as a stream,
so it is not signed in place. Beside it, ``export-manifest.sig.json`` holds a
signed statement of its exact bytes::

    {"format": "chatkeeper-export-signature/1", "manifest": "export-manifest.json",
     "manifest_sha256": "<hex>", "manifest_size": <bytes>,
     "signature": {"alg": "ed25519", "key_id": "<id>", "value": "<base64>"}}

The Ed25519 signature is over the canonical JSON (sorted keys, no spaces,
UTF-8) of that object without its ``signature`` field: the construction of
the bundle manifests (``archive.bundle.sign_manifest``). The signer's public
key is copied to ``export-public-key.json`` so a recipient can see which key
signed, but a signature counts only under a key the verifier pinned.
"""

from __future__ import annotations

import json
from collections.abc import Mapping
from dataclasses import dataclass
from pathlib import Path

from archive.bundle import check_signature, sign_manifest
from archive.hashing import file_sha256
from archive.keys import PublicKey, Signer
from exporters.output import MANIFEST_NAME

SIGNATURE_NAME = "export-manifest.sig.json"
PUBLIC_KEY_NAME = "export-public-key.json"
SIGNATURE_FORMAT = "chatkeeper-export-signature/1"


def _write_atomically(path: Path, data: bytes) -> None:
    partial = path.with_name(path.name + ".part")
    partial.write_bytes(data)
    partial.replace(path)


def sign_custody(root: Path, signer: Signer) -> Path:
    """Sign ``root/export-manifest.json`` as it is on disk; write the signature and public key."""
    sha256, size = file_sha256(root / MANIFEST_NAME)
    statement = {
        "format": SIGNATURE_FORMAT,
        "manifest": MANIFEST_NAME,
        "manifest_sha256": sha256,
        "manifest_size": size,
    }
    _write_atomically(root / PUBLIC_KEY_NAME, signer.public.to_json() + b"\n")
    path = root / SIGNATURE_NAME
    _write_atomically(path, sign_manifest(statement, signer) + b"\n")
    return path


@dataclass(frozen=True, slots=True)
class SignatureCheck:
    """The pinned key that signed the custody manifest, or why the signature does not count."""

    key_id: str | None
    problems: tuple[str, ...]


def _how_to_pin(key_id: str) -> str:
    return (
        f"custody manifest is signed by export key {key_id!r}, which is not pinned: confirm "
        "that key id with the exporting officer and pass their export public key "
        f"({key_id}.pub.json in <home>/keys/export/ on the exporting machine) with "
        f"--public-key FILE; {PUBLIC_KEY_NAME} in the export is a copy to compare, not a "
        "trust anchor"
    )


def check_custody_signature(root: Path, pinned: Mapping[str, PublicKey]) -> SignatureCheck:
    """Whether ``export-manifest.sig.json`` signs the manifest's exact bytes under a pinned key."""
    path = root / SIGNATURE_NAME
    if not path.is_file():
        return SignatureCheck(
            None, (f"{SIGNATURE_NAME} is missing: the custody manifest is unsigned",)
        )
    try:
        doc = json.loads(path.read_bytes())
    except (OSError, ValueError) as exc:
        return SignatureCheck(None, (f"{SIGNATURE_NAME} is unreadable: {exc}",))
    if (
        not isinstance(doc, dict)
        or doc.get("format") != SIGNATURE_FORMAT
        or doc.get("manifest") != MANIFEST_NAME
    ):
        return SignatureCheck(None, (f"{SIGNATURE_NAME} is not a {SIGNATURE_FORMAT} statement",))
    problems = []
    sha256, size = file_sha256(root / MANIFEST_NAME)
    if doc.get("manifest_sha256") != sha256 or doc.get("manifest_size") != size:
        problems.append(f"{MANIFEST_NAME} changed after it was signed")
    signature = doc.get("signature")
    key_id = str(signature.get("key_id")) if isinstance(signature, dict) else None
    if key_id is not None and key_id not in pinned:
        problems.append(_how_to_pin(key_id))
    else:
        problem = check_signature(doc, dict(pinned))
        if problem is not None:
            problems.append(f"custody manifest signature: {problem}")
    return SignatureCheck(None if problems else key_id, tuple(problems))
