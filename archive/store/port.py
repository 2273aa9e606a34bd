"""The ArchiveStore port: a versioned object store with Object Lock.

Every write carries a retention (mode + retain-until) and a SHA-256 checksum.
Readers pin version ids: a later PUT to the same key creates a new version and
never replaces a locked one, so "the latest version" is not evidence.
"""

from __future__ import annotations

from collections.abc import Iterator
from dataclasses import dataclass
from datetime import datetime
from typing import BinaryIO, Protocol


@dataclass(frozen=True, slots=True)
class Retention:
    mode: str  # COMPLIANCE | GOVERNANCE
    retain_until: datetime


@dataclass(frozen=True, slots=True)
class LockInfo:
    """What the bucket says about itself."""

    versioning: bool
    object_lock: bool
    default_mode: str | None
    default_days: int | None


@dataclass(frozen=True, slots=True)
class ObjectVersion:
    key: str
    version_id: str
    size: int
    last_modified: datetime
    is_delete_marker: bool = False


class ArchiveStore(Protocol):
    bucket: str

    def lock_info(self) -> LockInfo:
        """Versioning and Object Lock state of the bucket (raises StoreUnavailableError)."""
        ...

    def put(self, key: str, data: bytes, *, sha256_hex: str, retention: Retention) -> str:
        """Write a locked object; return its version id."""
        ...

    def put_stream(
        self, key: str, stream: BinaryIO, *, size: int, sha256_hex: str, retention: Retention
    ) -> str:
        """Write a locked object from a file-like object of known size and hash."""
        ...

    def get(self, key: str, version_id: str) -> bytes: ...

    def get_range(self, key: str, version_id: str, offset: int, size: int) -> bytes:
        """``size`` bytes of one version from byte ``offset`` (one ranged GET)."""
        ...

    def open(self, key: str, version_id: str) -> BinaryIO:
        """A streaming reader of one version (close it)."""
        ...

    def versions(self, prefix: str) -> Iterator[ObjectVersion]:
        """Every version under ``prefix``: per key, real versions oldest first, then delete markers."""
        ...

    def retention(self, key: str, version_id: str) -> Retention | None: ...

    def extend_retention(self, key: str, version_id: str, retention: Retention) -> None:
        """Lengthen the retention of one version (Object Lock never lets it shorten)."""
        ...

    def delete_version(self, key: str, version_id: str) -> None:
        """Try to delete one version (Object Lock must refuse this while locked or held)."""
        ...

    def legal_hold(self, key: str, version_id: str) -> bool:
        """Whether Object Lock legal hold is ON for one version."""
        ...

    def set_legal_hold(self, key: str, version_id: str, on: bool) -> None:
        """Turn Object Lock legal hold ON or OFF for one version."""
        ...

    def after_fork(self) -> None:
        """In a forked child process: drop the connections inherited from the parent.

        Connections are not shared across a fork; later calls open their own.
        """
        ...
