"""Slack workspace export layout: a zip Slack-reading tools (and chatkeeper) can load.

``slack-export.zip`` holds ``channels.json`` (channels), ``dms.json`` (direct
messages), ``users.json`` and one folder per conversation with a
``YYYY-MM-DD.json`` array of message objects per day, shaped like Slack's
own export: ``type``, ``user``, ``text``, ``ts``, ``thread_ts``, ``edited``,
``reactions``, ``files``, ``user_profile``; joins and leaves are
``channel_join``/``channel_leave`` messages. What Slack's format has no
place for (edit history, deletion, the archive record) is kept under a
``chatkeeper`` key that Slack-reading tools ignore. Files are listed, not
copied (as in Slack's own exports).
"""

from __future__ import annotations

import json
import zipfile
from collections.abc import Iterator
from datetime import datetime
from typing import IO, Any

from archive.codec import format_time
from archive.model import Actor, Kind, Platform
from exporters.fold import Event, Message
from exporters.formats.rsmf import ZIP_DATE
from exporters.partition import Conversation
from exporters.render import RenderContext

FILE_NAME = "slack-export.zip"
_EVENT_SUBTYPES = {
    Kind.MEMBER_JOINED: ("channel_join", "has joined the channel"),
    Kind.MEMBER_LEFT: ("channel_leave", "has left the channel"),
    Kind.CONVERSATION_RENAMED: ("channel_name", "renamed the channel"),
    Kind.CONVERSATION_ARCHIVED: ("channel_archive", "archived the channel"),
}


def slack_ts(moment: datetime) -> str:
    return f"{moment.timestamp():.6f}"


def export_slack(context: RenderContext) -> None:
    """Write ``slack-export.zip`` (day slices are required)."""
    if context.out.done(FILE_NAME):
        return
    users: dict[str, tuple[Actor, str]] = {}
    with (
        context.out.create(FILE_NAME, seekable=True) as handle,
        zipfile.ZipFile(handle, "w") as archive,
    ):
        channels: list[dict[str, Any]] = []
        dms: list[dict[str, Any]] = []
        folders: set[str] = set()
        for conversation in context.conversations():
            folder = _folder(conversation, folders)
            members: dict[str, None] = {}
            created: float | None = None
            for number in context.store.slices(conversation):
                day = context.store.slice_start(number).strftime("%Y-%m-%d")
                objects = _objects(context, conversation, number, users, members)
                first = next(objects, None)
                if first is None:
                    continue
                created = created or float(first["ts"])
                with archive.open(_entry(f"{folder}/{day}.json"), "w") as entry:
                    _write_array(entry, first, objects)
            info = _conversation_info(conversation, folder, list(members), created)
            (
                dms
                if conversation.is_direct and conversation.platform is Platform.SLACK
                else channels
            ).append(info)
        _write_json(archive, "channels.json", channels)
        _write_json(archive, "dms.json", dms)
        _write_json(archive, "users.json", [_user(*users[key]) for key in sorted(users)])


def _entry(name: str) -> zipfile.ZipInfo:
    info = zipfile.ZipInfo(name, ZIP_DATE)
    info.compress_type = zipfile.ZIP_DEFLATED
    info.external_attr = 0o644 << 16
    return info


def _folder(conversation: Conversation, used: set[str]) -> str:
    if conversation.is_direct and conversation.platform is Platform.SLACK:
        name = conversation.conversation
    else:
        name = (conversation.name or conversation.conversation).replace("/", "_")
    if name in used:
        name = f"{name}-{conversation.conversation}"
    used.add(name)
    return name


def _write_array(entry: IO[bytes], first: dict[str, Any], rest: Iterator[dict[str, Any]]) -> None:
    entry.write(b"[\n" + _dump(first))
    for value in rest:
        entry.write(b",\n" + _dump(value))
    entry.write(b"\n]\n")


def _dump(value: Any) -> bytes:
    return json.dumps(value, ensure_ascii=False, indent=4).encode("utf-8")


def _write_json(archive: zipfile.ZipFile, name: str, value: Any) -> None:
    archive.writestr(_entry(name), _dump(value) + b"\n")


def _objects(
    context: RenderContext,
    conversation: Conversation,
    number: int,
    users: dict[str, tuple[Actor, str]],
    members: dict[str, None],
) -> Iterator[dict[str, Any]]:
    for item in context.items(conversation, number):
        if item.actor is not None:
            users[item.actor.id] = (item.actor, conversation.workspace)
            members.setdefault(item.actor.id)
        if isinstance(item, Message):
            yield message_object(conversation, item)
        elif item.kind in _EVENT_SUBTYPES:
            yield _event_object(item)


def message_object(conversation: Conversation, message: Message) -> dict[str, Any]:
    """A Slack message object for a folded message."""
    slack = conversation.platform is Platform.SLACK
    actor = message.actor
    value: dict[str, Any] = {
        "type": "message",
        "user": actor.id if actor else "",
        "text": message.text,
        "ts": message.message_id if slack else slack_ts(message.occurred_at),
    }
    if actor is not None and actor.is_bot:
        value["subtype"] = "bot_message"
    if message.thread_id and slack:
        value["thread_ts"] = message.thread_id
    if actor is not None:
        value["user_profile"] = {
            "real_name": actor.name or actor.id,
            "display_name": actor.name or "",
            "name": actor.name or actor.id,
        }
    if message.edits:
        last = message.edits[-1]
        value["edited"] = {"user": last.actor.id if last.actor else "", "ts": slack_ts(last.at)}
    if message.reactions:
        value["reactions"] = [
            {"name": name, "users": [a.id for a in actors], "count": len(actors)}
            for name, actors in sorted(message.reactions.items())
        ]
    if message.attachments:
        value["files"] = [
            {
                "id": a.ref or (a.sha256 or "")[:12] or a.name,
                "name": a.name,
                "title": a.name,
                "mimetype": a.mime or "application/octet-stream",
                "size": a.size or 0,
            }
            for a in message.attachments
        ]
    value["chatkeeper"] = _extra(message, slack)
    return value


def _extra(message: Message, slack: bool) -> dict[str, Any]:
    extra: dict[str, Any] = {
        "record_key": message.key,
        "seq": message.seq,
        "bundle": message.bundle,
    }
    if not slack:
        extra["message_id"] = message.message_id
    if message.edits:
        extra["edits"] = [
            {
                "user": e.actor.id if e.actor else "",
                "at": format_time(e.at),
                "previous": e.previous,
                "new": e.new,
            }
            for e in message.edits
        ]
    if message.deleted:
        extra["deleted"] = True
        extra["deleted_at"] = format_time(message.deleted_at) if message.deleted_at else None
    if not message.verified:
        extra["verified"] = False
    return extra


def _event_object(event: Event) -> dict[str, Any]:
    subtype, words = _EVENT_SUBTYPES[event.kind]
    subject = event.member or event.actor
    user = subject.id if subject else ""
    value: dict[str, Any] = {
        "type": "message",
        "subtype": subtype,
        "user": user,
        "text": f"<@{user}> {words}",
        "ts": slack_ts(event.occurred_at),
    }
    if event.member is not None and event.actor is not None:
        value["inviter"] = event.actor.id
    if event.kind is Kind.CONVERSATION_RENAMED and event.text:
        value["name"] = event.text
    value["chatkeeper"] = {"record_key": event.key, "seq": event.seq, "bundle": event.bundle}
    return value


def _conversation_info(
    conversation: Conversation, folder: str, members: list[str], created: float | None
) -> dict[str, Any]:
    stamp = int(created) if created else 0
    if conversation.is_direct and conversation.platform is Platform.SLACK:
        return {"id": conversation.conversation, "created": stamp, "members": members}
    empty = {"value": "", "creator": "", "last_set": 0}
    return {
        "id": conversation.conversation,
        "name": folder,
        "created": stamp,
        "creator": members[0] if members else "",
        "is_archived": False,
        "is_general": False,
        "members": members,
        "topic": empty,
        "purpose": empty,
    }


def _user(actor: Actor, workspace: str) -> dict[str, Any]:
    name = actor.name or actor.id
    profile: dict[str, Any] = {"real_name": name, "display_name": actor.name or ""}
    if actor.email:
        profile["email"] = actor.email
    return {
        "id": actor.id,
        "team_id": workspace,
        "name": name,
        "real_name": name,
        "deleted": False,
        "is_bot": actor.is_bot,
        "profile": profile,
    }
