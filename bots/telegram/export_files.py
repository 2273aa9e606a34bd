"""Files named inside a Telegram Desktop export: resolved safely, hashed, stored as blobs.

``photo`` and ``file`` are paths relative to the export folder, written by
whoever produced the export: they are hostile input. A path is used only if it
stays inside the export folder after resolving ``..`` and symlinks; anything
else is recorded as ``unavailable`` and never opened.
"""

from __future__ import annotations

import mimetypes
from dataclasses import dataclass
from datetime import datetime, timedelta
from pathlib import Path
from typing import Any

from archive.attachments import store_blob
from archive.bundle import Layout
from archive.filenames import safe_filename
from archive.hashing import file_sha256
from archive.model import Attachment, AttachmentState
from archive.store import ArchiveStore, Retention

_FIELDS = ("photo", "file")


@dataclass(frozen=True)
class BlobTarget:
    """Where imported files go: a locked, content-addressed blob store."""

    store: ArchiveStore
    layout: Layout
    retention_mode: str
    retention_days: int


def resolve_inside(root: Path, relative: str) -> Path | None:
    """The file ``relative`` names under ``root``, or None if it would leave ``root``."""
    if not relative or "\x00" in relative:
        return None
    candidate = Path(relative)
    if candidate.is_absolute() or candidate.drive:
        return None
    base = root.resolve()
    try:
        target = (base / candidate).resolve(strict=True)
    except (OSError, RuntimeError):
        return None
    if not target.is_relative_to(base) or not target.is_file():
        return None
    return target


def _store(target: BlobTarget, path: Path, sha256: str, size: int, now: datetime) -> None:
    until = (now + timedelta(days=target.retention_days)).replace(microsecond=0)
    with path.open("rb") as handle:
        store_blob(
            target.store,
            target.layout,
            handle,
            size=size,
            sha256_hex=sha256,
            retention=Retention(target.retention_mode, until),
        )


def export_attachments(
    message: dict[str, Any], root: Path, target: BlobTarget, now: datetime
) -> tuple[Attachment, ...]:
    """One attachment per file field of an exported message (blocking: reads and uploads)."""
    found: list[Attachment] = []
    for field in _FIELDS:
        value = message.get(field)
        if not isinstance(value, str):
            continue
        name = safe_filename(str(message.get("file_name") or Path(value).name), fallback=field)
        mime = message.get("mime_type") or mimetypes.guess_type(name)[0]
        if value.startswith("(") and value.endswith(")"):  # "(File not included. ...)"
            found.append(
                Attachment(name, AttachmentState.UNAVAILABLE, mime=mime, reason=value[:200])
            )
            continue
        path = resolve_inside(root, value)
        if path is None:
            reason = "path is outside the export folder or missing; not read"
            found.append(Attachment(name, AttachmentState.UNAVAILABLE, mime=mime, reason=reason))
            continue
        sha256, size = file_sha256(path)
        if target is None:
            found.append(
                Attachment(
                    name,
                    AttachmentState.PENDING,
                    sha256=None,
                    mime=mime,
                    size=size,
                    reason="no store given",
                )
            )
            continue
        _store(target, path, sha256, size, now)
        found.append(Attachment(name, AttachmentState.STORED, sha256=sha256, mime=mime, size=size))
    return tuple(found)
