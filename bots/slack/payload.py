"""Slack payload facts shared by live capture, backfill and import (pure, no I/O).

``Delivery`` is where a payload came from (team, source, raw bytes, times);
``Snapshot`` is what identity resolution learned (names, emails, types).
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass, field
from datetime import UTC, datetime
from typing import Any

from archive.model import Actor, Attachment, AttachmentState, Platform, Source

SLACK = Platform.SLACK.value


@dataclass(frozen=True, slots=True)
class Snapshot:
    """What identity resolution learned before translating (names, emails, types)."""

    actors: Mapping[str, Actor] = field(default_factory=dict)
    conversation_name: str | None = None
    conversation_type: str | None = None


def slack_time(ts: object) -> datetime | None:
    """A Slack ``ts`` ("1700000000.000100") or epoch seconds as an aware UTC datetime."""
    try:
        return datetime.fromtimestamp(float(str(ts)), tz=UTC)
    except (TypeError, ValueError, OverflowError):
        return None


def text_of(value: object) -> str | None:
    return value if isinstance(value, str) and value else None


def mapping_of(value: object) -> Mapping[str, Any]:
    return value if isinstance(value, Mapping) else {}


def event_conversation(event: Mapping[str, Any]) -> str:
    """The conversation an inner event belongs to ("" for workspace-level events)."""
    channel = event.get("channel")
    if isinstance(channel, str):
        return channel
    if isinstance(channel, Mapping) and isinstance(channel.get("id"), str):
        return str(channel["id"])
    item = mapping_of(event.get("item"))
    for candidate in (event.get("channel_id"), item.get("channel")):
        if isinstance(candidate, str):
            return candidate
    ids = event.get("channel_ids")
    if isinstance(ids, list) and ids and isinstance(ids[0], str):
        return ids[0]
    return ""


def event_actor(event: Mapping[str, Any]) -> str | None:
    """The user who caused an inner event, if Slack says."""
    if event.get("subtype") == "message_changed":
        edited = mapping_of(mapping_of(event.get("message")).get("edited"))
        return text_of(edited.get("user")) or text_of(mapping_of(event.get("message")).get("user"))
    if event.get("subtype") == "message_deleted":
        return text_of(mapping_of(event.get("previous_message")).get("user"))
    user = event.get("user")
    if isinstance(user, Mapping):  # user_change carries the whole user object
        return text_of(user.get("id"))
    return text_of(user) or text_of(event.get("user_id")) or text_of(event.get("bot_id"))


def file_attachments(files: object) -> tuple[Attachment, ...]:
    """Files referenced by a message, pending download (the ref is the file id, never a URL)."""
    if not isinstance(files, list):
        return ()
    found = []
    for item in files:
        entry = mapping_of(item)
        file_id = text_of(entry.get("id"))
        if file_id is None:
            continue
        size = entry.get("size")
        found.append(
            Attachment(
                name=text_of(entry.get("name")) or text_of(entry.get("title")) or file_id,
                state=AttachmentState.PENDING,
                mime=text_of(entry.get("mimetype")),
                size=size if isinstance(size, int) and size > 0 else None,
                ref=file_id,
            )
        )
    return tuple(found)


def actor_for(snapshot: Snapshot, user_id: str | None, message: Mapping[str, Any]) -> Actor | None:
    if user_id is None:
        return None
    known = snapshot.actors.get(user_id)
    if known is not None:
        return known
    is_bot = bool(message.get("bot_id")) or message.get("subtype") == "bot_message"
    # A bot message names its bot in bot_profile, or (older integrations) in username.
    name = text_of(mapping_of(message.get("bot_profile")).get("name"))
    if name is None and is_bot:
        name = text_of(message.get("username"))
    return Actor(id=user_id, name=name, is_bot=is_bot)


def details_for(event: Mapping[str, Any], snapshot: Snapshot, **extra: Any) -> dict[str, Any]:
    details: dict[str, Any] = {"event": str(event.get("type", ""))}
    if text_of(event.get("subtype")):
        details["subtype"] = event["subtype"]
    if snapshot.conversation_type:
        details["conversation_type"] = snapshot.conversation_type
    elif text_of(event.get("channel_type")):
        details["conversation_type"] = event["channel_type"]
    details.update({k: v for k, v in extra.items() if v is not None})
    return details


@dataclass(frozen=True, slots=True)
class Delivery:
    """Where a payload came from: the envelope facts every record needs."""

    team: str
    source: Source
    raw: bytes
    captured_at: datetime
    event_id: str | None = None
    event_time: datetime | None = None


def delivery_for(
    envelope: Mapping[str, Any], raw: bytes, source: Source, captured_at: datetime
) -> Delivery:
    """Envelope facts: team, event_id, event_time (epoch seconds)."""
    team = text_of(envelope.get("team_id")) or text_of(envelope.get("context_team_id")) or ""
    return Delivery(
        team=team,
        source=source,
        raw=raw,
        captured_at=captured_at,
        event_id=text_of(envelope.get("event_id")),
        event_time=slack_time(envelope.get("event_time")),
    )
