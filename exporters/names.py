"""Stable, safe names for exported files and for people in mail headers."""

from __future__ import annotations

import hashlib
import re
import unicodedata
from datetime import datetime

from archive.model import Actor, Platform

_UNSAFE = re.compile(r"[^A-Za-z0-9._-]+")


def safe_component(text: str, limit: int = 80) -> str:
    """A path component from any text: ASCII letters, digits, ``._-`` only."""
    ascii_text = unicodedata.normalize("NFKD", text).encode("ascii", "ignore").decode("ascii")
    cleaned = _UNSAFE.sub("_", ascii_text).strip("._") or "file"
    return cleaned[:limit]


def conversation_slug(platform: Platform, workspace: str, conversation: str) -> str:
    return safe_component(f"{platform.value}-{workspace}-{conversation}", 160)


def attachment_file_name(sha256: str, name: str) -> str:
    """Content-addressed and readable: the first 12 hex digits, then the safe name."""
    return f"{sha256[:12]}_{safe_component(name)}"


def slice_label(start: datetime, slice_seconds: int) -> str:
    if slice_seconds % 86_400 == 0:
        return start.strftime("%Y-%m-%d")
    return start.strftime("%Y-%m-%dT%H%MZ")


def actor_label(actor: Actor | None) -> str:
    if actor is None:
        return "unknown"
    return actor.name or actor.id


def mail_address(actor: Actor | None, platform: Platform) -> str:
    """The actor's e-mail, or a stable non-deliverable address from the user id."""
    if actor is not None and actor.email:
        return actor.email
    user = safe_component(actor.id if actor else "unknown", 64)
    return f"{user}@{platform.value}.chatkeeper.invalid"


def message_address(platform: Platform, workspace: str, conversation: str, message_id: str) -> str:
    """A stable Message-ID for a chat message (also used for In-Reply-To)."""
    ident = "|".join((platform.value, workspace, conversation, message_id))
    return f"<{hashlib.sha256(ident.encode()).hexdigest()[:32]}@chatkeeper.invalid>"
