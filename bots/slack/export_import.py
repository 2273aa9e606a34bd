"""Import a Slack workspace export zip into the journal (idempotent).

The zip is read in memory, entry by entry, and never extracted: an entry
whose name could escape a directory (``../``, absolute, drive letters,
backslashes, control characters) is refused and reported, and so is any
entry or total beyond the configured sizes. Messages get the same keys as
live capture (``msg|channel|ts``), so importing an export that overlaps live
capture, or importing it twice, stores every message once.
"""

from __future__ import annotations

import json
import re
import zipfile
from collections.abc import Iterator, Mapping
from dataclasses import dataclass, field, replace
from pathlib import Path, PurePosixPath
from typing import Any

from archive.clock import Clock, SystemClock
from archive.codec import canonical_json
from archive.errors import SlackExportError
from archive.journal import Journal
from archive.model import Actor, Record, Source
from archive.progress import NO_PROGRESS, Progress
from bots.slack.directory import user_info_from
from bots.slack.export_history import history_records, original_message, pin_record
from bots.slack.files import file_task_details
from bots.slack.payload import Delivery, Snapshot
from bots.slack.translate import message_record

_DAY_FILE = re.compile(r"^(\d{4}-\d{2}-\d{2})\.json$")
_UNSAFE = re.compile(r"[\x00-\x1f\x7f\\:]")
_BATCH = 1000
_LISTS = {
    "channels.json": "public_channel",
    "groups.json": "private_channel",
    "mpims.json": "mpim",
    "dms.json": "im",
}


@dataclass
class ImportSummary:
    conversations: int = 0
    messages: int = 0
    new: int = 0
    duplicates: int = 0
    refused: list[str] = field(default_factory=list)  # entry name (escaped) + reason
    skipped: list[str] = field(default_factory=list)  # conversations not imported, and why


def safe_entry_name(name: str) -> PurePosixPath | None:
    """The entry's path if it stays inside the archive root, else None (zip-slip)."""
    if not name or _UNSAFE.search(name) or name.startswith("/"):
        return None
    path = PurePosixPath(name)
    if any(part in {"..", ""} for part in path.parts):
        return None
    return path


class _Reader:
    def __init__(self, archive: zipfile.ZipFile, max_entry: int, max_total: int) -> None:
        self._zip = archive
        self._max_entry = max_entry
        self._budget = max_total

    def json(self, info: zipfile.ZipInfo) -> Any:
        if info.file_size > self._max_entry:
            raise SlackExportError(f"entry {info.filename[:80]!r} is larger than the import limit")
        with self._zip.open(info) as handle:
            data = handle.read(self._max_entry + 1)
        if len(data) > self._max_entry:
            raise SlackExportError(f"entry {info.filename[:80]!r} is larger than the import limit")
        self._budget -= len(data)
        if self._budget < 0:
            raise SlackExportError("export is larger than slack.import_max_total_bytes")
        try:
            return json.loads(data)
        except ValueError as exc:
            raise SlackExportError(f"entry {info.filename[:80]!r} is not valid JSON") from exc


@dataclass(frozen=True, slots=True)
class _Conversation:
    id: str
    name: str | None
    type: str
    platform: str = "slack"  # from a chatkeeper export's conversation entry


def _conversations(
    reader: _Reader, entries: Mapping[str, zipfile.ZipInfo]
) -> dict[str, _Conversation]:
    """Folder name -> conversation, from channels/groups/mpims/dms.json."""
    found: dict[str, _Conversation] = {}
    for list_name, kind in _LISTS.items():
        info = entries.get(list_name)
        if info is None:
            continue
        items = reader.json(info)
        for item in items if isinstance(items, list) else []:
            if not isinstance(item, Mapping) or not isinstance(item.get("id"), str):
                continue
            name = item.get("name") if isinstance(item.get("name"), str) else None
            origin = item.get("chatkeeper")
            platform = origin.get("platform") if isinstance(origin, Mapping) else None
            conversation = _Conversation(item["id"], name, kind, str(platform or "slack"))
            found[name or item["id"]] = conversation
            found.setdefault(item["id"], conversation)
    return found


def _users(reader: _Reader, entries: Mapping[str, zipfile.ZipInfo]) -> tuple[dict[str, Actor], str]:
    actors: dict[str, Actor] = {}
    team = ""
    for list_name in ("users.json", "org_users.json"):
        info = entries.get(list_name)
        items = reader.json(info) if info is not None else []
        for item in items if isinstance(items, list) else []:
            if isinstance(item, Mapping) and isinstance(item.get("id"), str):
                actors[item["id"]] = user_info_from(item).actor
                team = team or str(item.get("team_id") or "")
    return actors, team


def _day_entries(entries: Mapping[str, zipfile.ZipInfo]) -> Iterator[tuple[str, zipfile.ZipInfo]]:
    for name in sorted(entries):
        path = PurePosixPath(name)
        if len(path.parts) == 2 and _DAY_FILE.match(path.parts[1]):
            yield path.parts[0], entries[name]


def import_slack_export(
    journal: Journal,
    path: Path,
    *,
    team: str | None = None,
    max_entry_bytes: int = 256 * 1024 * 1024,
    max_total_bytes: int = 4 * 1024 * 1024 * 1024,
    clock: Clock | None = None,
    progress: Progress = NO_PROGRESS,
) -> ImportSummary:
    """Import ``path`` (a Slack export zip); return what was new, duplicate or refused.

    ``progress`` counts the export's day files and names the one being read.

    ``team`` is the Slack team id; without it, the ``team_id`` of users.json is
    used (needed so that keys match live capture).
    """
    clock = clock or SystemClock()
    summary = ImportSummary()
    try:
        archive = zipfile.ZipFile(path)
    except (OSError, zipfile.BadZipFile) as exc:
        raise SlackExportError(f"{path.name}: not a readable zip file ({exc})") from exc
    with archive:
        entries: dict[str, zipfile.ZipInfo] = {}
        for info in archive.infolist():
            if info.is_dir():
                continue
            if safe_entry_name(info.filename) is None:
                summary.refused.append(f"{info.filename[:80]!r}: unsafe path")
                continue
            entries[info.filename] = info
        reader = _Reader(archive, max_entry_bytes, max_total_bytes)
        conversations = _conversations(reader, entries)
        actors, users_team = _users(reader, entries)
        workspace = team or users_team
        seen: set[str] = set()
        batch: list[Record] = []
        days = list(_day_entries(entries))
        progress.total(len(days), "file")
        for folder, info in days:
            progress.step(info.filename)
            progress.advance()
            conversation = conversations.get(folder)
            if conversation is None:
                summary.refused.append(f"{folder[:80]!r}: folder not listed in the export")
                continue
            if conversation.platform != "slack":
                note = (
                    f"{folder[:80]!r}: a {conversation.platform[:20]} conversation exported by"
                    " chatkeeper, not a Slack one; not imported"
                )
                if note not in summary.skipped:
                    summary.skipped.append(note)
                continue
            seen.add(conversation.id)
            messages = reader.json(info)
            for message in messages if isinstance(messages, list) else []:
                if not isinstance(message, Mapping) or not message.get("ts"):
                    continue
                summary.messages += 1
                # chatkeeper writes the capturing workspace as the message's team; Slack's
                # own exports name the sender's team there (Slack Connect), so only ours count.
                own = message.get("team") if "chatkeeper" in message else None
                message_team = own if isinstance(own, str) and own and not team else workspace
                if not message_team:
                    raise SlackExportError("cannot tell the Slack team id: pass --team T...")
                batch.extend(_records(message_team, conversation, message, actors, clock))
                if len(batch) >= _BATCH:
                    _flush(journal, batch, summary)
        _flush(journal, batch, summary)
        summary.conversations = len(seen)
    return summary


def _records(
    team: str,
    conversation: _Conversation,
    message: Mapping[str, Any],
    actors: Mapping[str, Actor],
    clock: Clock,
) -> list[Record]:
    """The message's record (its text before any edit) and its history's records."""
    record = _record(team, conversation, message, actors, clock)
    pin = pin_record(record, message)
    if pin is not None:
        return [pin]
    return [original_message(record, message), *history_records(record, message, actors)]


def _record(
    team: str,
    conversation: _Conversation,
    message: Mapping[str, Any],
    actors: Mapping[str, Actor],
    clock: Clock,
) -> Record:
    delivery = Delivery(
        team=team,
        source=Source.IMPORT_SLACK_EXPORT,
        raw=canonical_json(message),
        captured_at=clock.now(),
    )
    snapshot = Snapshot(
        actors=actors, conversation_name=conversation.name, conversation_type=conversation.type
    )
    record = message_record(conversation.id, message, delivery, snapshot)
    return replace(record, details={**record.details, "conversation_type": conversation.type})


def _flush(journal: Journal, batch: list[Record], summary: ImportSummary) -> None:
    if not batch:
        return
    unique = list({r.key: r for r in batch}.values())
    existing = journal.contains([r.key for r in unique])
    fresh = [r for r in unique if r.key not in existing]
    journal.append(fresh)
    _queue_files(journal, fresh)
    summary.new += len(unique) - len(existing)
    summary.duplicates += len(batch) - (len(unique) - len(existing))
    batch.clear()


def _queue_files(journal: Journal, records: list[Record]) -> None:
    """Exports hold links, not bytes: the attachment worker fetches them like live files."""
    for record in records:
        if not record.attachments:
            continue
        message = json.loads(record.raw)
        files = {f.get("id"): f for f in message.get("files", []) if isinstance(f, Mapping)}
        for attachment in record.attachments:
            details = file_task_details(
                files.get(attachment.ref, {}), record.conversation, record.workspace
            )
            journal.enqueue_fetch(
                record.key,
                "slack",
                attachment.ref or "",
                attachment.name,
                details,
                record.captured_at,
            )
