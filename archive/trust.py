"""The trust walk of verification: pinned keys, followed forward through key rotations.

Also lists the keys a stream publishes, which are shown to officers so they can
check a fingerprint out of band, and never trusted by themselves.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Any

from archive.bundle import Layout
from archive.errors import ConfigError
from archive.keys import PublicKey
from archive.rotation import check_rotation
from archive.store import ArchiveStore
from archive.verify_checkpoints import KeyWindows


@dataclass(frozen=True)
class Finding:
    """One problem verification found; ``bundle`` is None for stream-wide ones."""

    bundle: int | None
    check: str
    message: str


@dataclass
class TrustWalk:
    """The keys trusted so far on the walk, and which bundles each may sign."""

    keys: dict[str, PublicKey]
    windows: KeyWindows = field(default_factory=KeyWindows)

    def signer_problem(self, number: int, doc: dict[str, Any]) -> str | None:
        key_id = str(doc["signature"].get("key_id"))
        retired = self.windows.retired.get(key_id)
        if retired is not None and number > retired:
            return f"signed by key {key_id}, which bundle {retired} rotated out"
        return None

    def follow(self, number: int, doc: dict[str, Any], clean: bool) -> list[Finding]:
        """Trust the keys that bundle ``number`` introduces, if it verified."""
        entries = doc.get("key_rotations", [])
        if not entries:
            return []
        if not isinstance(entries, list):
            return [Finding(number, "keys", "key_rotations is not a list")]
        if not clean:
            return [
                Finding(number, "keys", "key rotation not followed: the bundle does not verify")
            ]
        found = []
        signer = str(doc["signature"].get("key_id"))
        for entry in entries:
            new, problem = check_rotation(entry, self.keys, signer)
            if new is None:
                found.append(Finding(number, "keys", problem or "key rotation refused"))
                continue
            self.keys[new.key_id] = new
            self.windows.retired[signer] = number
            self.windows.introduced.setdefault(new.key_id, number)
        return found


def published_keys(store: ArchiveStore, layout: Layout) -> dict[str, PublicKey]:
    """The public keys the stream publishes (``keys/``): to show, never to trust."""
    found: dict[str, PublicKey] = {}
    for version in store.versions(layout.keys_prefix):
        if not version.is_delete_marker:
            try:
                key = PublicKey.from_json(store.get(version.key, version.version_id))
            except ConfigError:
                continue  # junk under keys/: nothing to show
            found[key.key_id] = key
    return found
