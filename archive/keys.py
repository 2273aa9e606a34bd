"""Ed25519 signing keys for manifests.

The private key is generated on first use under ``<home>/keys/`` with mode
0600; its public half sits beside it and is published in the stream so that
verifiers can find it. Verifiers should *trust* a public key they got out of
band (``verify --public-key``): a key read from the store proves only that
the stream is self-consistent.
"""

from __future__ import annotations

import base64
import hashlib
import json
import os
from dataclasses import dataclass
from pathlib import Path

from cryptography.exceptions import InvalidSignature
from cryptography.hazmat.primitives.asymmetric.ed25519 import Ed25519PrivateKey, Ed25519PublicKey
from cryptography.hazmat.primitives.serialization import (
    Encoding,
    NoEncryption,
    PrivateFormat,
    PublicFormat,
    load_pem_private_key,
)

from archive.errors import ConfigError

ALGORITHM = "ed25519"


def key_id_of(public_raw: bytes) -> str:
    """A short, stable id: the first 16 hex digits of SHA-256 of the raw public key."""
    return hashlib.sha256(public_raw).hexdigest()[:16]


@dataclass(frozen=True)
class PublicKey:
    key_id: str
    raw: bytes

    def verify(self, signature: bytes, payload: bytes) -> bool:
        try:
            Ed25519PublicKey.from_public_bytes(self.raw).verify(signature, payload)
        except InvalidSignature:
            return False
        return True

    def to_json(self) -> bytes:
        """The published form: ``{"alg","key_id","public_key"(base64)}``."""
        return json.dumps(
            {
                "alg": ALGORITHM,
                "key_id": self.key_id,
                "public_key": base64.b64encode(self.raw).decode("ascii"),
            },
            sort_keys=True,
        ).encode()

    @classmethod
    def from_json(cls, data: bytes) -> PublicKey:
        try:
            doc = json.loads(data)
            raw = base64.b64decode(doc["public_key"], validate=True)
            if doc.get("alg") != ALGORITHM or len(raw) != 32:
                raise ValueError("not an ed25519 public key")
        except (ValueError, KeyError, TypeError) as exc:
            raise ConfigError(f"unreadable public key: {exc}") from exc
        key = cls(key_id_of(raw), raw)
        if doc.get("key_id") != key.key_id:
            raise ConfigError("public key file: key_id does not match the key")
        return key


@dataclass(frozen=True)
class Signer:
    private: Ed25519PrivateKey
    public: PublicKey

    def sign(self, payload: bytes) -> bytes:
        return self.private.sign(payload)


def load_or_create_signer(key_dir: Path) -> Signer:
    """Load ``signing-ed25519.pem`` from ``key_dir``, creating it (0600) on first run."""
    key_dir.mkdir(parents=True, exist_ok=True, mode=0o700)
    path = key_dir / "signing-ed25519.pem"
    if not path.exists():
        pem = Ed25519PrivateKey.generate().private_bytes(
            Encoding.PEM, PrivateFormat.PKCS8, NoEncryption()
        )
        fd = os.open(path, os.O_WRONLY | os.O_CREAT | os.O_EXCL, 0o600)
        with os.fdopen(fd, "wb") as handle:
            handle.write(pem)
    if path.stat().st_mode & 0o077:
        raise ConfigError(f"signing key {path} is readable by others: chmod 600 it")
    try:
        private = load_pem_private_key(path.read_bytes(), password=None)
    except ValueError as exc:
        raise ConfigError(f"signing key {path} is not a valid PEM key: {exc}") from exc
    if not isinstance(private, Ed25519PrivateKey):
        raise ConfigError(f"signing key {path} is not an Ed25519 key")
    raw = private.public_key().public_bytes(Encoding.Raw, PublicFormat.Raw)
    public = PublicKey(key_id_of(raw), raw)
    public_path = key_dir / f"{public.key_id}.pub.json"
    if not public_path.exists():
        public_path.write_bytes(public.to_json())
    return Signer(private, public)


def load_public_keys(paths: list[Path]) -> dict[str, PublicKey]:
    keys: dict[str, PublicKey] = {}
    for path in paths:
        try:
            key = PublicKey.from_json(path.read_bytes())
        except OSError as exc:
            raise ConfigError(f"cannot read public key {path}: {exc}") from exc
        keys[key.key_id] = key
    return keys


def local_public_keys(key_dir: Path) -> dict[str, PublicKey]:
    """Public keys kept in the state directory (this deployment's own)."""
    if not key_dir.is_dir():
        return {}
    return load_public_keys(sorted(key_dir.glob("*.pub.json")))
