"""Import a Telegram Desktop export (``result.json`` + media) into the journal.

Handles a one-chat export (``{name, type, id, messages}``) and a whole-account
export (``chats.list`` and ``left_chats.list``). Time comes from
``date_unixtime`` (``date`` is the exporting PC's local time without an
offset); ``text`` may be a string or a list mixing strings and entity objects.
Chat ids become Bot API ids (``-100...`` for supergroups and channels, ``-id``
for basic groups). In supergroups and channels message ids are the chat's own,
so imported messages get the same key as live capture and are stored once; in
other chats ids are private to the exporting account and the key is built from
chat, sender, time and text instead. ``raw`` is the message object re-serialized
canonically (sorted keys, compact, UTF-8): the export file is one document, so
there are no per-message bytes to keep.
"""

from __future__ import annotations

import hashlib
import json
from collections import Counter
from collections.abc import Iterator
from dataclasses import dataclass, field, replace
from pathlib import Path
from typing import Any

from archive.clock import Clock, SystemClock
from archive.codec import canonical_json
from archive.errors import TelegramExportError
from archive.journal import Journal
from archive.model import Actor, Kind, Platform, Record, Source, record_key
from archive.progress import NO_PROGRESS, Progress
from bots.telegram.export_files import BlobTarget, export_attachments
from bots.telegram.keys import export_key, is_channel_id, message_key, supergroup_chat_id
from bots.telegram.payload import timestamp

CHANNEL_TYPES = {"private_supergroup", "public_supergroup", "private_channel", "public_channel"}
ACTIONS = {
    "invite_members": Kind.MEMBER_JOINED,
    "join_group_by_link": Kind.MEMBER_JOINED,
    "join_group_by_request": Kind.MEMBER_JOINED,
    "remove_members": Kind.MEMBER_LEFT,
    "edit_group_title": Kind.CONVERSATION_RENAMED,
    "pin_message": Kind.PIN_ADDED,
}
_BATCH = 500


def reaction_records(record: Record, message: dict[str, Any]) -> list[Record]:
    """The reactions newer Desktop exports list (``reactions[].recent``: who, when) as
    ``reaction_added`` records, keyed by message, reaction and person so a re-import adds none."""
    found: list[Record] = []
    reactions = message.get("reactions")
    for reaction in reactions if isinstance(reactions, list) else []:
        if not isinstance(reaction, dict):
            continue
        label = str(reaction.get("emoji") or "") or (
            f"custom:{reaction['document_id']}" if reaction.get("document_id") else ""
        )
        recent = reaction.get("recent")
        for entry in recent if label and isinstance(recent, list) else []:
            who = peer_id(entry.get("from_id")) if isinstance(entry, dict) else None
            if who is None:
                continue
            unixtime = entry.get("date_unixtime")
            at = timestamp(unixtime) if str(unixtime or "").isdigit() else record.occurred_at
            found.append(
                replace(
                    record,
                    key=record_key(
                        "telegram", record.workspace, "export_reaction", record.key, label, who
                    ),
                    kind=Kind.REACTION_ADDED,
                    occurred_at=at,
                    actor=Actor(id=who, name=entry.get("from")),
                    text=None,
                    reply_to=None,
                    attachments=(),
                    details={"added": [label], "removed": [], "imported_from": "telegram_export"},
                )
            )
    return found


@dataclass
class ImportReport:
    chats: int = 0
    messages: int = 0
    new: int = 0
    duplicates: int = 0
    skipped: int = 0  # messages without date_unixtime
    attachments: Counter[str] = field(default_factory=Counter)


def bot_api_chat_id(chat_type: str, bare_id: int) -> int:
    if chat_type in CHANNEL_TYPES:
        return supergroup_chat_id(bare_id)
    if chat_type == "private_group":
        return -bare_id
    return bare_id


def peer_id(from_id: Any) -> str | None:
    """``user123`` -> ``123``, ``channel123`` -> ``-100...123``, ``chat123`` -> ``-123``."""
    if not isinstance(from_id, str):
        return None
    for prefix, convert in (
        ("user", lambda n: n),
        ("channel", supergroup_chat_id),
        ("chat", lambda n: -n),
    ):
        if from_id.startswith(prefix) and from_id[len(prefix) :].isdigit():
            return str(convert(int(from_id[len(prefix) :])))
    return from_id


def plain_text(value: Any) -> str:
    """The text of a message, whether a string or a list of strings and entity objects."""
    if isinstance(value, str):
        return value
    if isinstance(value, list):
        return "".join(
            part if isinstance(part, str) else str(part.get("text", ""))
            for part in value
            if isinstance(part, str | dict)
        )
    return ""


def _chats(root: dict[str, Any]) -> Iterator[dict[str, Any]]:
    if isinstance(root.get("messages"), list):
        yield root
        return
    for section in ("chats", "left_chats"):
        listing = root.get(section)
        if isinstance(listing, dict):
            yield from (c for c in listing.get("list", []) if isinstance(c, dict))


def load_export(path: Path) -> tuple[dict[str, Any], Path]:
    """(parsed result.json, export folder) for a folder or a result.json path."""
    folder = path if path.is_dir() else path.parent
    target = path / "result.json" if path.is_dir() else path
    try:
        data = json.loads(target.read_bytes())
    except FileNotFoundError as exc:
        raise TelegramExportError(
            f"{target} not found: export as JSON from Telegram Desktop"
        ) from exc
    except (OSError, ValueError) as exc:
        raise TelegramExportError(f"{target} is not a readable JSON export: {exc}") from exc
    if not isinstance(data, dict) or not any(True for _ in _chats(data)):
        raise TelegramExportError(f"{target} has no chats or messages")
    return data, folder


class _ExportImport:
    """One import run over a Telegram Desktop export (blocking: reads, uploads, commits)."""

    def __init__(
        self,
        journal: Journal,
        blobs: BlobTarget,
        clock: Clock,
        *,
        workspace: str = "export",
        progress: Progress = NO_PROGRESS,
    ) -> None:
        self.journal = journal
        self.blobs = blobs
        self.clock = clock
        self.workspace = workspace
        self.progress = progress

    def run(self, path: Path) -> ImportReport:
        """Import every chat under ``path``; idempotent (blocking: reads, uploads, commits)."""
        self.progress.step("reading the export")
        data, folder = load_export(path)
        report = ImportReport()
        chats = list(_chats(data))
        self.progress.total(
            sum(len(c["messages"]) for c in chats if isinstance(c.get("messages"), list)), "message"
        )
        for chat in chats:
            report.chats += 1
            self.progress.step(f"chat {chat.get('id', '?')}")
            batch: list[Record] = []
            for message in chat.get("messages", []):
                self.progress.advance()
                if not isinstance(message, dict):
                    continue
                report.messages += 1
                record = self._record(chat, message, folder, report)
                if record is not None:
                    batch.append(record)
                    batch.extend(reaction_records(record, message))
                if len(batch) >= _BATCH:
                    self._commit(batch, report)
                    batch = []
            self._commit(batch, report)
        return report

    def _commit(self, batch: list[Record], report: ImportReport) -> None:
        if not batch:
            return
        known = self.journal.contains([r.key for r in batch])
        report.duplicates += sum(1 for r in batch if r.key in known)
        report.new += sum(1 for r in batch if r.key not in known)
        self.journal.append(batch)

    def _record(
        self, chat: dict[str, Any], message: dict[str, Any], folder: Path, report: ImportReport
    ) -> Record | None:
        unixtime = message.get("date_unixtime")
        if not (isinstance(unixtime, str | int) and str(unixtime).isdigit()):
            report.skipped += 1
            return None
        chat_id = bot_api_chat_id(str(chat.get("type", "")), int(chat.get("id", 0)))
        text = plain_text(message.get("text"))
        sender = peer_id(message.get("from_id") or message.get("actor_id"))
        if is_channel_id(chat_id):
            key = message_key("chat", chat_id, int(message.get("id", 0)))
        else:
            digest = hashlib.sha256(text.encode("utf-8")).hexdigest()
            key = export_key(chat_id, sender or "", int(unixtime), digest)
        kind = Kind.MESSAGE
        if message.get("type") == "service":
            kind = ACTIONS.get(str(message.get("action")), Kind.OTHER)
        elif message.get("type") != "message":
            kind = Kind.OTHER
        # Only files of messages new to the journal are read and stored.
        attachments = (
            ()
            if self.journal.contains([key])
            else export_attachments(message, folder, self.blobs, self.clock.now())
        )
        for attachment in attachments:
            report.attachments[attachment.state.value] += 1
        details: dict[str, Any] = {
            name: message[name]
            for name in (
                "type",
                "action",
                "edited_unixtime",
                "forwarded_from",
                "saved_from",
                "via_bot",
                "media_type",
                "author",
                "title",
                "members",
                "message_id",
            )
            if name in message
        }
        details["export_chat_type"] = chat.get("type")
        reply = message.get("reply_to_message_id")
        return Record(
            key=key,
            platform=Platform.TELEGRAM,
            workspace=self.workspace,
            conversation=str(chat_id),
            conversation_name=chat.get("name"),
            kind=kind,
            source=Source.IMPORT_TELEGRAM_EXPORT,
            occurred_at=timestamp(unixtime),
            captured_at=self.clock.now(),
            message_id=str(message.get("id")),
            reply_to=str(reply) if reply is not None else None,
            actor=Actor(id=sender, name=message.get("from") or message.get("actor"))
            if sender
            else None,
            text=text or None,
            attachments=attachments,
            details=details,
            raw=canonical_json(message),
        )


def import_telegram_export(
    journal: Journal,
    path: Path,
    *,
    blobs: BlobTarget,
    workspace: str = "export",
    clock: Clock | None = None,
    progress: Progress = NO_PROGRESS,
) -> ImportReport:
    """Import every chat under ``path`` (a Desktop JSON export); idempotent.

    ``workspace`` is the bot id, so that keys of private chats match live capture;
    ``progress`` counts messages and names the chat being read.
    """
    return _ExportImport(
        journal, blobs, clock or SystemClock(), workspace=workspace, progress=progress
    ).run(path)
