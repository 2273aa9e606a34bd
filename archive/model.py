"""The canonical record of one platform event, and its parts.

Everything here is a frozen value with no I/O. Adapters build records with
pure translate functions; the journal, sealer and exporters only read them.
"""

from __future__ import annotations

import hashlib
import json
from collections.abc import Mapping
from dataclasses import dataclass, field
from datetime import datetime
from enum import StrEnum
from typing import Any


class Platform(StrEnum):
    SLACK = "slack"
    TELEGRAM = "telegram"
    CHATKEEPER = (
        "chatkeeper"  # about the archive itself: keys, holds, disposition, review, officer actions
    )


class Kind(StrEnum):
    """What happened. Unknown platform events are kept as ``OTHER``."""

    MESSAGE = "message"
    EDIT = "edit"
    DELETE = "delete"
    REACTION_ADDED = "reaction_added"
    REACTION_REMOVED = "reaction_removed"
    MEMBER_JOINED = "member_joined"
    MEMBER_LEFT = "member_left"
    CONVERSATION_RENAMED = "conversation_renamed"
    CONVERSATION_ARCHIVED = "conversation_archived"
    PIN_ADDED = "pin_added"
    PIN_REMOVED = "pin_removed"
    FILE_SHARED = "file_shared"
    FILE_DELETED = "file_deleted"
    ATTACHMENT_STORED = "attachment_stored"
    ADMIN_ACTION = "admin_action"
    MONITORING_CHANGED = "monitoring_changed"
    KEY_ROTATED = "key_rotated"
    HOLD_CHANGED = "hold_changed"  # a legal hold created, an object held or released
    RETENTION_EXTENDED = "retention_extended"
    DISPOSITION = "disposition"  # a disposition certificate
    REVIEW_DECISION = "review_decision"  # a supervision reviewer's decision (supervision/)
    OFFICER_ACTION = "officer_action"  # what an officer did in the web console
    OTHER = "other"


class Source(StrEnum):
    """How the event reached chatkeeper."""

    EVENTS_API = "events_api"
    SOCKET_MODE = "socket_mode"
    WEBHOOK = "webhook"
    POLLING = "polling"
    BACKFILL_API = "backfill_api"
    IMPORT_SLACK_EXPORT = "import_slack_export"
    IMPORT_TELEGRAM_EXPORT = "import_telegram_export"
    ADMIN = "admin"
    CAPTURE_API = "capture_api"
    CONSOLE = "console"


class AttachmentState(StrEnum):
    STORED = "stored"
    PENDING = "pending"
    TOO_LARGE = "too_large"
    UNAVAILABLE = "unavailable"


def record_key(platform: str, workspace: str, *identity: str | int) -> str:
    """Deterministic identity of an event: the same event always gets the same key.

    The parts are JSON-encoded before hashing so that ``("a|b", "c")`` and
    ``("a", "b|c")`` cannot collide.
    """
    parts = [platform, workspace, *(str(p) for p in identity)]
    encoded = json.dumps(parts, ensure_ascii=False, separators=(",", ":"))
    return hashlib.sha256(encoded.encode("utf-8")).hexdigest()


@dataclass(frozen=True, slots=True)
class Actor:
    """Who did it, as the platform described them at capture time."""

    id: str
    name: str | None = None
    email: str | None = None
    is_bot: bool = False


@dataclass(frozen=True, slots=True)
class Attachment:
    """A file referenced by a record.

    ``sha256`` is set once the content is stored as a blob; ``ref`` is the
    platform's own file id (never a token-bearing URL).
    """

    name: str
    state: AttachmentState
    sha256: str | None = None
    mime: str | None = None
    size: int | None = None
    reason: str | None = None
    ref: str | None = None


@dataclass(frozen=True, slots=True)
class Record:
    """One platform event, normalized, with the exact bytes received in ``raw``.

    ``details`` holds kind-specific facts (reaction name, admin command and
    verdict, new conversation name, ...). ``seq`` is assigned by the journal.
    """

    key: str
    platform: Platform
    workspace: str
    conversation: str
    kind: Kind
    source: Source
    occurred_at: datetime
    captured_at: datetime
    raw: bytes
    conversation_name: str | None = None
    message_id: str | None = None
    thread_id: str | None = None
    reply_to: str | None = None
    actor: Actor | None = None
    text: str | None = None
    previous_text: str | None = None
    attachments: tuple[Attachment, ...] = ()
    details: Mapping[str, Any] = field(default_factory=dict)
    seq: int | None = None

    def __post_init__(self) -> None:
        for name in ("occurred_at", "captured_at"):
            moment: datetime = getattr(self, name)
            if moment.tzinfo is None or moment.utcoffset() is None:
                raise ValueError(f"Record.{name} must be timezone-aware (UTC)")
        if len(self.key) != 64:
            raise ValueError("Record.key must be a sha256 hex digest (see record_key)")

    @property
    def blob_hashes(self) -> tuple[str, ...]:
        """SHA-256 of every attachment stored as a blob."""
        return tuple(a.sha256 for a in self.attachments if a.sha256 is not None)


#: Record kinds that fold into an earlier message: their ``message_id`` (or, for a pin, the
#: pinned message) names it.
TARGETING_KINDS = frozenset(
    {
        Kind.EDIT,
        Kind.DELETE,
        Kind.REACTION_ADDED,
        Kind.REACTION_REMOVED,
        Kind.FILE_SHARED,
        Kind.FILE_DELETED,
        Kind.ATTACHMENT_STORED,
        Kind.PIN_ADDED,
        Kind.PIN_REMOVED,
    }
)


def target_of(record: Record) -> str | None:
    """The message id a record belongs to, or None for conversation events."""
    return message_target(
        record.kind, record.platform, record.key, record.message_id, record.details
    )


def message_target(
    kind: Kind,
    platform: Platform,
    key: str,
    message_id: str | None,
    details: Mapping[str, Any] | None,
) -> str | None:
    """``target_of`` from a record's fields (a sealed line's object, before any record is built)."""
    if kind is Kind.MESSAGE:
        return message_id or key
    if kind in (Kind.PIN_ADDED, Kind.PIN_REMOVED):
        # A Telegram pin is a service message of its own that names the pinned one.
        pinned = details.get("pinned_message_id") if details else None
        if pinned is None and platform is Platform.TELEGRAM and details:
            pinned = details.get("message_id")  # Telegram Desktop export's pin_message
        return str(pinned) if pinned is not None else message_id
    if kind in TARGETING_KINDS:
        return message_id
    return None
