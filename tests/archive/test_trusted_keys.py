"""Key trust (``archive.keys.trusted_keys``): which anchor pins the keys, against a real bucket."""

from __future__ import annotations

import hashlib
from datetime import UTC, datetime, timedelta
from pathlib import Path

import pytest

from archive.bundle import Layout
from archive.errors import ConfigError, IntegrityError
from archive.keys import PublicKey, load_or_create_signer, trusted_keys
from archive.store import Retention
from archive.store.s3 import S3ArchiveStore

LAYOUT = Layout(stream="trust")


def _publish(store: S3ArchiveStore, key: PublicKey) -> None:
    data = key.to_json()
    store.put(
        LAYOUT.public_key_key(key.key_id),
        data,
        sha256_hex=hashlib.sha256(data).hexdigest(),
        retention=Retention("GOVERNANCE", datetime.now(UTC) + timedelta(days=1)),
    )


def _public_file(tmp_path: Path, name: str) -> tuple[PublicKey, Path]:
    key = load_or_create_signer(tmp_path / name).public
    return key, tmp_path / name / f"{key.key_id}.pub.json"


def test_command_line_pins_come_first(store: S3ArchiveStore, tmp_path: Path) -> None:
    """A --public-key file wins over archive.trusted_keys and the deployment's own keys."""
    pinned, path = _public_file(tmp_path, "officer")
    own, _ = _public_file(tmp_path, "own")
    keys, anchor = trusted_keys(
        store,
        LAYOUT,
        own_key_dir=tmp_path / "own",
        key_files=[path],
        configured=[own.fingerprint],
    )
    assert keys == {pinned.key_id: pinned}
    assert anchor == "trusted keys (pinned by --public-key/--key-fingerprint)"


def test_configured_fingerprint_pins_the_published_key(
    store: S3ArchiveStore, tmp_path: Path
) -> None:
    """archive.trusted_keys with a fingerprint pins the key the stream publishes under it."""
    key, _ = _public_file(tmp_path, "signer")
    _publish(store, key)
    keys, anchor = trusted_keys(
        store, LAYOUT, own_key_dir=tmp_path / "none", configured=[key.fingerprint.upper()]
    )
    assert keys == {key.key_id: key}
    assert anchor == "trusted keys (pinned by archive.trusted_keys)"


def test_fingerprint_of_an_unpublished_key_is_refused(
    store: S3ArchiveStore, tmp_path: Path
) -> None:
    """A pinned fingerprint that matches no published key is an integrity failure (exit 3)."""
    key, _ = _public_file(tmp_path, "signer")
    with pytest.raises(IntegrityError, match="matches no key published") as caught:
        trusted_keys(store, LAYOUT, own_key_dir=tmp_path / "none", fingerprints=[key.fingerprint])
    assert caught.value.exit_code == 3


def test_a_fingerprint_option_must_be_64_hex_digits(store: S3ArchiveStore, tmp_path: Path) -> None:
    """--key-fingerprint with something else is a usage error (exit 2)."""
    with pytest.raises(ConfigError, match="is not a key fingerprint"):
        trusted_keys(store, LAYOUT, own_key_dir=tmp_path, fingerprints=["abc"])


def test_own_keys_are_the_last_anchor(store: S3ArchiveStore, tmp_path: Path) -> None:
    """With no pin, the deployment's own keys are trusted, and the anchor says where they are."""
    own, _ = _public_file(tmp_path, "own")
    keys, anchor = trusted_keys(store, LAYOUT, own_key_dir=tmp_path / "own")
    assert keys == {own.key_id: own}
    assert anchor == f"trusted keys (this deployment's own, {tmp_path / 'own'})"


def test_no_anchor_refuses_and_lists_published_keys(store: S3ArchiveStore, tmp_path: Path) -> None:
    """No pin and no own key: IntegrityError naming the published (untrusted) key to check."""
    key, _ = _public_file(tmp_path, "elsewhere")
    _publish(store, key)
    with pytest.raises(IntegrityError, match="no trusted signing key is pinned") as caught:
        trusted_keys(store, LAYOUT, own_key_dir=tmp_path / "none")
    assert key.fingerprint in str(caught.value)
