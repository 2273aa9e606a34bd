"""Folding records into what a reader sees: messages with their history, and events.

The archive is append-only: an edit, a deletion or a reaction is its own
record that points at a message by ``message_id``. Folding turns the records
of one conversation slice into a sequence of ``Message`` and ``Event`` items:

- an edit becomes an entry of the message's edit history (who, when,
  previous text, new text) and the message shows its latest text;
- a deletion marks the message deleted and keeps the last known text;
- reactions are folded to who reacted with what (removals applied);
- shared files and stored-attachment records update the message's attachments;
- joins, leaves and other conversation events become ``Event`` items.

``fold_items`` expects a message's own records to arrive together, the
message first (the partition store orders them so); a record about a message
that is not in the export becomes an *orphan* message built from what the
record itself says.
"""

from __future__ import annotations

import json
from collections.abc import Callable, Iterable, Iterator, Mapping
from dataclasses import dataclass, field
from datetime import UTC, datetime
from typing import Any, NamedTuple, Protocol

from archive.model import Actor, Attachment, Kind, Platform
from exporters.forwards import forward_origin


class FoldedRecord(Protocol):
    """What folding reads of a record: an ``archive.model.Record``, or the partition
    store's ``exporters.stored.StoredRecord``."""

    @property
    def key(self) -> str: ...
    @property
    def seq(self) -> int | None: ...
    @property
    def platform(self) -> Platform: ...
    @property
    def workspace(self) -> str: ...
    @property
    def conversation(self) -> str: ...
    @property
    def conversation_name(self) -> str | None: ...
    @property
    def kind(self) -> Kind: ...
    @property
    def occurred_at(self) -> datetime: ...
    @property
    def message_id(self) -> str | None: ...
    @property
    def thread_id(self) -> str | None: ...
    @property
    def reply_to(self) -> str | None: ...
    @property
    def actor(self) -> Actor | None: ...
    @property
    def text(self) -> str | None: ...
    @property
    def previous_text(self) -> str | None: ...
    @property
    def attachments(self) -> tuple[Attachment, ...]: ...
    @property
    def details(self) -> Mapping[str, Any]: ...


@dataclass(frozen=True, slots=True)
class Edit:
    """One change of a message's text."""

    actor: Actor | None
    at: datetime
    previous: str
    new: str


@dataclass(slots=True)
class Message:
    """A message as folded from its records (mutable while folding only)."""

    key: str
    seq: int
    bundle: int | None
    platform: Platform
    workspace: str
    conversation: str
    conversation_name: str | None
    message_id: str
    occurred_at: datetime
    actor: Actor | None
    text: str
    thread_id: str | None = None
    reply_to: str | None = None
    edits: list[Edit] = field(default_factory=list)
    deleted: bool = False
    deleted_at: datetime | None = None
    deleted_by: Actor | None = None
    reactions: dict[str, list[Actor]] = field(default_factory=dict)
    attachments: list[Attachment] = field(default_factory=list)
    pinned: bool = False
    pinned_by: Actor | None = None
    pinned_at: datetime | None = None
    orphan: bool = False
    verified: bool = True
    media_group: str | None = None  # a Telegram album's media_group_id
    album: tuple[str, ...] = ()  # the other message ids folded into this one (an album)
    edited_at: datetime | None = None  # the platform says it was edited (an export's marker)
    edited_by: Actor | None = None
    forwarded_from: str | None = None  # where a Telegram forward came from, in words

    @property
    def was_edited(self) -> bool:
        """Edited: with a history in the archive, or by the platform's marker alone."""
        return bool(self.edits) or self.edited_at is not None

    @property
    def parent_id(self) -> str | None:
        """The thread parent's message id, or None for a top-level message."""
        for candidate in (self.thread_id, self.reply_to):
            if candidate and candidate != self.message_id:
                return candidate
        return None

    @property
    def pin_only(self) -> bool:
        """Only a pin of a message that is not in the export: shown as a pin, not a message."""
        return (
            self.orphan
            and self.pinned_at is not None
            and not (self.text or self.edits or self.deleted or self.attachments or self.reactions)
        )


@dataclass(frozen=True, slots=True)
class Event:
    """Something that happened in a conversation that is not a message."""

    key: str
    seq: int
    bundle: int | None
    kind: Kind
    occurred_at: datetime
    actor: Actor | None
    text: str | None
    details: dict[str, str]
    verified: bool = True
    member: Actor | None = None  # who joined or left, when someone else did it
    members: tuple[Actor, ...] = ()  # everyone added or removed by someone else (member first)
    message_id: str | None = None  # a Telegram service message's own id (a topic's thread id)


Item = Message | Event


def reaction_name(record: FoldedRecord) -> str:
    """The reaction's name (Slack short name or Telegram emoji)."""
    for name in ("reaction", "emoji", "name"):
        value = record.details.get(name)
        if isinstance(value, str) and value:
            return value
    return "unknown"


def new_message(
    record: FoldedRecord, target: str, bundle: int | None, verified: bool, orphan: bool
) -> Message:
    edited_at = None if orphan else _edited_at(record)
    return Message(
        key=record.key,
        seq=record.seq or 0,
        bundle=bundle,
        platform=record.platform,
        workspace=record.workspace,
        conversation=record.conversation,
        conversation_name=record.conversation_name,
        message_id=target,
        occurred_at=record.occurred_at,
        actor=record.actor if not orphan or record.kind is Kind.EDIT else None,
        text=(record.text or "") if not orphan else (record.previous_text or ""),
        thread_id=record.thread_id,
        reply_to=record.reply_to,
        attachments=list(record.attachments) if not orphan else [],
        orphan=orphan,
        verified=verified,
        media_group=_media_group(record) if not orphan else None,
        edited_at=edited_at,
        edited_by=None if edited_at is None else _edited_by(record),
        forwarded_from=None if orphan else forward_origin(record.details),
    )


def _edited_at(record: FoldedRecord) -> datetime | None:
    """When an imported message says it was last edited (Slack ``edited.ts``, Telegram
    Desktop ``edited_unixtime``)."""
    details = record.details
    if not details:
        return None
    for name in ("edited_ts", "edited_unixtime"):
        value = details.get(name)
        if value is None:
            continue
        try:
            return datetime.fromtimestamp(float(value), UTC)
        except (TypeError, ValueError):
            continue
    return None


def _edited_by(record: FoldedRecord) -> Actor | None:
    """Who edited a message that says it was edited (``_edited_at``)."""
    user = (record.details or {}).get("edited_user")
    if user is None or (record.actor is not None and str(user) == record.actor.id):
        return record.actor
    return Actor(str(user))


def _media_group(record: FoldedRecord) -> str | None:
    value = record.details.get("media_group_id") if record.details else None
    return str(value) if value is not None else None


def apply(message: Message, record: FoldedRecord, verified: bool) -> None:
    """Fold one record about ``message`` into it."""
    message.verified = message.verified and verified
    kind = record.kind
    if kind is Kind.MESSAGE:
        _merge_attachments(message, record.attachments)
    elif kind is Kind.EDIT:
        new = record.text or ""
        previous = (
            message.text if message.text or not record.previous_text else record.previous_text
        )
        message.edits.append(Edit(record.actor, record.occurred_at, previous, new))
        message.text = new
        _merge_attachments(message, record.attachments)
    elif kind is Kind.DELETE:
        message.deleted = True
        message.deleted_at = record.occurred_at
        message.deleted_by = record.actor
        if not message.text and record.previous_text:
            message.text = record.previous_text
    elif kind in (Kind.REACTION_ADDED, Kind.REACTION_REMOVED):
        _react(message, record)
    elif kind in (Kind.FILE_SHARED, Kind.ATTACHMENT_STORED):
        _merge_attachments(message, record.attachments)
    elif kind is Kind.PIN_ADDED:
        message.pinned = True
        message.pinned_by = record.actor
        message.pinned_at = record.occurred_at
    elif kind is Kind.PIN_REMOVED:
        message.pinned = False


def _names(value: object) -> list[str]:
    return [str(v) for v in value] if isinstance(value, list | tuple) else []


def _react(message: Message, record: FoldedRecord) -> None:
    """One reaction (Slack: ``reaction``) or a change of several (Telegram:
    ``added`` and ``removed`` lists)."""
    added, removed = _names(record.details.get("added")), _names(record.details.get("removed"))
    if not added and not removed:
        name = reaction_name(record)
        added, removed = ([name], []) if record.kind is Kind.REACTION_ADDED else ([], [name])
    actor = record.actor
    actor_id = actor.id if actor else None
    for name in removed:
        actors = [a for a in message.reactions.get(name, []) if a.id != actor_id]
        if actors:
            message.reactions[name] = actors
        else:
            message.reactions.pop(name, None)
    for name in added:
        actors = message.reactions.setdefault(name, [])
        if actor is not None and all(a.id != actor_id for a in actors):
            actors.append(actor)


def _merge_attachments(message: Message, attachments: Iterable[Attachment]) -> None:
    """Add new attachments; a later state of the same file (by ref or name) replaces it."""
    for attachment in attachments:
        for index, known in enumerate(message.attachments):
            same = (attachment.ref and attachment.ref == known.ref) or (
                not attachment.ref and attachment.name == known.name
            )
            if same:
                message.attachments[index] = attachment
                break
        else:
            message.attachments.append(attachment)


def detail_text(value: object) -> str:
    """A detail as readable text: lists joined with commas, objects as JSON."""
    if isinstance(value, list | tuple):
        return ", ".join(detail_text(v) for v in value)
    if isinstance(value, dict):
        return json.dumps(value, ensure_ascii=False, sort_keys=True)
    return str(value)


Namer = Callable[[str], str | None]


def _no_names(actor_id: str) -> str | None:
    return None


def _others(record: FoldedRecord, names: Namer = _no_names) -> tuple[Actor, ...]:
    """Who joined or left, when that was someone other than the actor.

    Telegram's chat_member updates name one ``member_id``; service messages a
    ``members`` list of ids (live, with ``member_names``) or of names (Desktop
    export).
    """
    actor = record.actor
    found: list[Actor] = []
    member_id = record.details.get("member_id")
    if member_id is not None:
        found.append(Actor(str(member_id), names(str(member_id))))
    listed = record.details.get("members")
    listed_names = record.details.get("member_names")
    if isinstance(listed, list):
        for index, value in enumerate(listed):
            if value is None:
                continue
            name = (
                listed_names[index]
                if isinstance(listed_names, list) and index < len(listed_names)
                else None
            )
            text = str(value)
            if isinstance(value, str) and not text.lstrip("-").isdigit():
                found.append(Actor(text, text))  # an export names members, without ids
            else:
                found.append(Actor(text, str(name) if name else names(text)))
    unique = {a.id: a for a in found}
    if actor is None:
        return tuple(unique.values())
    return tuple(
        a
        for a in unique.values()
        if a.id != actor.id and not (a.id == a.name and a.name == actor.name)
    )


def to_event(
    record: FoldedRecord, bundle: int | None, verified: bool, names: Namer = _no_names
) -> Event:
    details = {str(k): detail_text(v) for k, v in sorted(record.details.items())}
    members = (
        _others(record, names) if record.kind in (Kind.MEMBER_JOINED, Kind.MEMBER_LEFT) else ()
    )
    return Event(
        key=record.key,
        seq=record.seq or 0,
        bundle=bundle,
        kind=record.kind,
        occurred_at=record.occurred_at,
        actor=record.actor,
        text=record.text,
        details=details,
        verified=verified,
        member=members[0] if members else None,
        members=members,
        message_id=record.message_id if record.platform is Platform.TELEGRAM else None,
    )


class Row(NamedTuple):
    """A record as stored for folding: the message it is about, its bundle and status."""

    record: FoldedRecord
    target: str | None
    bundle: int | None
    verified: bool


def fold_items(rows: Iterable[Row], names: Namer = _no_names) -> Iterator[Item]:
    """Fold rows, grouped by message (the message first), into items.

    A message is yielded once the first record of another group arrives, so
    only one message is held at a time.
    """
    current: Message | None = None
    for row in rows:
        record, target, bundle, verified = row.record, row.target, row.bundle, row.verified
        if target is not None:
            if current is not None and current.message_id == target:
                apply(current, record, verified)
                continue
            if current is not None:
                yield current
            orphan = record.kind is not Kind.MESSAGE
            current = new_message(record, target, bundle, verified, orphan)
            if orphan:
                apply(current, record, verified)
            continue
        if current is not None:
            yield current
            current = None
        yield to_event(record, bundle, verified, names)
    if current is not None:
        yield current
