"""CSV: one row per message (and per conversation event), for spreadsheets and review tools."""

from __future__ import annotations

import csv
import io

from archive.codec import format_time
from exporters.empty import notice_instead
from exporters.fold import Event, Item, Message
from exporters.names import actor_label
from exporters.partition import Conversation
from exporters.render import RenderContext
from exporters.service import describe

FILE_NAME = "messages.csv"
COLUMNS = (
    "platform",
    "workspace",
    "conversation",
    "conversation_name",
    "type",
    "message_id",
    "thread_id",
    "timestamp",
    "sender_id",
    "sender_name",
    "sender_email",
    "text",
    "edit_count",
    "edited",
    "deleted",
    "deleted_at",
    "reactions",
    "reactors",
    "attachments",
    "forwarded_from",
    "record_key",
    "seq",
    "bundle",
    "verified",
)


def export_csv(context: RenderContext) -> None:
    """Write ``messages.csv`` (UTF-8 with a BOM so spreadsheets read it right)."""
    if notice_instead(context):
        return
    if context.out.done(FILE_NAME):
        return
    with context.out.create(FILE_NAME) as handle:
        text = io.TextIOWrapper(handle, encoding="utf-8-sig", newline="")
        writer = csv.writer(text, lineterminator="\r\n")
        writer.writerow(COLUMNS)
        for conversation in context.conversations():
            for number in context.store.slices(conversation):
                for item in context.items(conversation, number):
                    writer.writerow(_row(conversation, item))
        text.flush()
        text.detach()


def _row(conversation: Conversation, item: Item) -> list[str]:
    base = [
        conversation.platform.value,
        conversation.workspace,
        conversation.conversation,
        conversation.name or "",
    ]
    actor = item.actor
    sender = [actor.id, actor.name or "", actor.email or ""] if actor else ["", "", ""]
    if isinstance(item, Event):
        return [
            *base,
            item.kind.value,
            "",
            "",
            format_time(item.occurred_at),
            *sender,
            describe(item) if item.members or not item.text else item.text,
            "0",
            "false",
            "false",
            "",
            "",
            "",
            "",
            "",
            item.key,
            str(item.seq),
            _text(item.bundle),
            _bool(item.verified),
        ]
    if item.pin_only:
        pinner = item.pinned_by
        return [
            *base,
            "pin_added",
            item.message_id,
            "",
            format_time(item.pinned_at or item.occurred_at),
            *([pinner.id, pinner.name or "", pinner.email or ""] if pinner else ["", "", ""]),
            f"{actor_label(pinner)} pinned message {item.message_id} (not in this export)",
            "0",
            "false",
            "false",
            "",
            "",
            "",
            "",
            "",
            item.key,
            str(item.seq),
            _text(item.bundle),
            _bool(item.verified),
        ]
    return [*base, *_message_fields(item, sender)]


def _message_fields(message: Message, sender: list[str]) -> list[str]:
    reactions = "; ".join(
        f"{name}:{len(actors)}" for name, actors in sorted(message.reactions.items())
    )
    reactors = "; ".join(
        f"{name}: " + ", ".join(f"{actor_label(a)} ({a.id})" for a in actors)
        for name, actors in sorted(message.reactions.items())
    )
    attachments = "; ".join(a.name for a in message.attachments)
    return [
        "message",
        message.message_id,
        message.parent_id or "",
        format_time(message.occurred_at),
        *sender,
        message.text,
        str(len(message.edits)),
        _bool(message.was_edited),
        _bool(message.deleted),
        format_time(message.deleted_at) if message.deleted_at else "",
        reactions,
        reactors,
        attachments,
        message.forwarded_from or "",
        message.key,
        str(message.seq),
        _text(message.bundle),
        _bool(message.verified),
    ]


def _bool(value: bool) -> str:
    return "true" if value else "false"


def _text(value: int | None) -> str:
    return "" if value is None else str(value)
