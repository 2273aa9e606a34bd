"""The SHA-256 file hasher: every file and stream chatkeeper hashes whole goes through here.

Blobs are addressed by, and exports list, the SHA-256 of their bytes; reading in
1 MiB chunks keeps memory flat for attachments of any size.
"""

from __future__ import annotations

import hashlib
from pathlib import Path
from typing import BinaryIO

CHUNK = 1024 * 1024


def stream_sha256(stream: BinaryIO) -> tuple[str, int]:
    """The hex SHA-256 and the size of what is left in ``stream`` (read to its end)."""
    digest = hashlib.sha256()
    size = 0
    while chunk := stream.read(CHUNK):
        digest.update(chunk)
        size += len(chunk)
    return digest.hexdigest(), size


def file_sha256(path: Path) -> tuple[str, int]:
    """The hex SHA-256 and the size of the file at ``path``."""
    with path.open("rb") as handle:
        return stream_sha256(handle)
