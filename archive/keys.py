"""Ed25519 signing keys for manifests and checkpoints.

The private key is generated on first use under ``<home>/keys/`` with mode
0600; its public half sits beside it and is published in the stream so that
verifiers can find it. Verifiers must *pin* a key they got out of band
(``verify --public-key`` / ``--key-fingerprint`` / ``archive.trusted_keys``):
a key read from the store proves only that the stream is self-consistent.

Rotation (``archive.rotation``) creates the next key as ``pending-ed25519.pem``
and, once the ``key_rotated`` record is sealed under the old key, moves it over
``signing-ed25519.pem``: the old private key is destroyed (nothing needs it;
its public half stays beside the new one so the deployment still pins it).

Trust (:func:`trusted_keys`): which keys a verifier pins, and from which anchor.
"""

from __future__ import annotations

import base64
import hashlib
import json
import os
from collections.abc import Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import TYPE_CHECKING

from cryptography.exceptions import InvalidSignature
from cryptography.hazmat.primitives.asymmetric.ed25519 import Ed25519PrivateKey, Ed25519PublicKey
from cryptography.hazmat.primitives.serialization import (
    Encoding,
    NoEncryption,
    PrivateFormat,
    PublicFormat,
    load_pem_private_key,
)

from archive.errors import ConfigError, IntegrityError

if TYPE_CHECKING:
    from archive.bundle import Layout
    from archive.store import ArchiveStore

ALGORITHM = "ed25519"


CURRENT = "signing-ed25519.pem"
PENDING = "pending-ed25519.pem"


def fingerprint_of(public_raw: bytes) -> str:
    """The pin: SHA-256 of the 32 raw public key bytes, 64 lowercase hex digits."""
    return hashlib.sha256(public_raw).hexdigest()


def key_id_of(public_raw: bytes) -> str:
    """A short, stable id: the first 16 hex digits of the fingerprint (too short to pin)."""
    return fingerprint_of(public_raw)[:16]


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

    @property
    def fingerprint(self) -> str:
        return fingerprint_of(self.raw)

    def to_dict(self) -> dict[str, str]:
        """``{"alg","key_id","public_key"(base64)}``: the key as a JSON object."""
        return {
            "alg": ALGORITHM,
            "key_id": self.key_id,
            "public_key": base64.b64encode(self.raw).decode("ascii"),
        }

    def to_json(self) -> bytes:
        """The published form: ``{"alg","key_id","public_key"(base64)}``."""
        return json.dumps(self.to_dict(), sort_keys=True).encode()

    @classmethod
    def from_json(cls, data: bytes) -> PublicKey:
        try:
            return cls.from_dict(json.loads(data))
        except ValueError as exc:
            raise ConfigError(f"unreadable public key: {exc}") from exc

    @classmethod
    def from_dict(cls, doc: object) -> PublicKey:
        """The key from its JSON object; ConfigError if it is not one."""
        try:
            if not isinstance(doc, dict):
                raise ValueError("not a JSON object")
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


def _load_private(path: Path) -> Signer:
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
    return Signer(private, PublicKey(key_id_of(raw), raw))


def _write_public(key_dir: Path, public: PublicKey) -> None:
    public_path = key_dir / f"{public.key_id}.pub.json"
    if not public_path.exists():
        public_path.write_bytes(public.to_json())


def load_or_create_signer(key_dir: Path) -> Signer:
    """Load ``signing-ed25519.pem`` from ``key_dir``, creating it (0600) on first run."""
    key_dir.mkdir(parents=True, exist_ok=True, mode=0o700)
    signer = _load_private(key_dir / CURRENT)
    _write_public(key_dir, signer.public)
    return signer


def load_or_create_pending(key_dir: Path) -> Signer:
    """The next signing key of a rotation in progress, created (0600) if absent."""
    key_dir.mkdir(parents=True, exist_ok=True, mode=0o700)
    return _load_private(key_dir / PENDING)


def activate_pending(key_dir: Path) -> Signer:
    """Make the pending key the signing key; the old private key is replaced (destroyed)."""
    pending = _load_private(key_dir / PENDING)
    _write_public(key_dir, pending.public)
    (key_dir / PENDING).replace(key_dir / CURRENT)
    return pending


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


_HEX = frozenset("0123456789abcdef")


def is_fingerprint(text: str) -> bool:
    """64 hex digits: a key fingerprint (else a public key file path)."""
    return len(text) == 64 and set(text.lower()) <= _HEX


def _pin_by_fingerprint(
    fingerprints: Sequence[str], published: dict[str, PublicKey], where: str
) -> dict[str, PublicKey]:
    by_print = {k.fingerprint: k for k in published.values()}
    keys: dict[str, PublicKey] = {}
    for text in fingerprints:
        if not is_fingerprint(text):
            raise ConfigError(
                f"{where}: {text!r} is not a key fingerprint (64 hex digits: the SHA-256 of the "
                "raw public key, as `chatkeeper keys show` prints it)"
            )
        key = by_print.get(text.lower())
        if key is None:
            raise IntegrityError(
                f"pinned key fingerprint {text.lower()} ({where}) matches no key published in "
                "the stream: the stream was not signed by the key you trust"
            )
        keys[key.key_id] = key
    return keys


def _no_anchor_message(published: dict[str, PublicKey]) -> str:
    listed = ", ".join(f"{k.key_id} (fingerprint {k.fingerprint})" for k in published.values())
    example = next(iter(published.values())).fingerprint if published else "<64 hex digits>"
    return (
        "no trusted signing key is pinned, so the stream cannot be called intact "
        f"(keys published in the bucket, unverified: {listed or 'none'}); check a fingerprint "
        f"out of band, then pin it: --key-fingerprint {example} or --public-key FILE, or "
        f'archive.trusted_keys = ["{example}"] in the config (CHATKEEPER_ARCHIVE_TRUSTED_KEYS)'
    )


def trusted_keys(
    store: ArchiveStore,
    layout: Layout,
    *,
    own_key_dir: Path,
    key_files: Sequence[Path] = (),
    fingerprints: Sequence[str] = (),
    configured: Sequence[str] = (),
) -> tuple[dict[str, PublicKey], str]:
    """The pinned signing keys and which anchor pinned them; IntegrityError (exit 3) if none.

    Anchors, first match wins: ``key_files`` and ``fingerprints`` (the command
    line's ``--public-key`` / ``--key-fingerprint``); else ``configured``
    (``archive.trusted_keys``: fingerprints and/or key files); else this
    deployment's own keys in ``own_key_dir``. A fingerprint pins the key
    published in the stream whose SHA-256 it is. Keys published in the bucket
    are never trusted by themselves.
    """
    from archive.trust import published_keys  # archive.trust reads keys with this module

    if key_files or fingerprints:
        keys = load_public_keys(list(key_files))
        if fingerprints:
            keys |= _pin_by_fingerprint(
                fingerprints, published_keys(store, layout), "--key-fingerprint"
            )
        return keys, "trusted keys (pinned by --public-key/--key-fingerprint)"
    if configured:
        keys = load_public_keys([Path(t) for t in configured if not is_fingerprint(t)])
        prints = [t for t in configured if is_fingerprint(t)]
        if prints:
            keys |= _pin_by_fingerprint(
                prints, published_keys(store, layout), "archive.trusted_keys"
            )
        return keys, "trusted keys (pinned by archive.trusted_keys)"
    local = local_public_keys(own_key_dir)
    if local:
        return local, f"trusted keys (this deployment's own, {own_key_dir})"
    raise IntegrityError(_no_anchor_message(published_keys(store, layout)))
