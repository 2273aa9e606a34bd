"""Slack workspace export layout: a zip Slack-reading tools (and chatkeeper) can load.

``slack-export.zip`` is laid out as Slack's own "all conversations" export:
``channels.json`` (public channels only), ``groups.json`` (private
channels), ``mpims.json`` (group DMs), ``dms.json`` (DMs), ``users.json``
and one folder per conversation with a ``YYYY-MM-DD.json`` array of message
objects per day. A conversation whose type no record names is listed as
private, never as public. Message objects are shaped like Slack's (see
``exporters.formats.slack_message``); conversation entries carry the members and
archive state derived from the membership and lifecycle records (see
``exporters.formats.slack_conversation``). Files are listed, not copied (as in
Slack's own exports).
"""

from __future__ import annotations

import json
import zipfile
from collections.abc import Iterator
from typing import IO, Any

from archive.model import Actor
from exporters.empty import notice_instead
from exporters.fold import Message
from exporters.formats.rsmf import ZIP_DATE
from exporters.formats.slack_conversation import Shape, conversation_info, scan
from exporters.formats.slack_message import event_objects, message_object, pin_object
from exporters.partition import Conversation
from exporters.render import RenderContext

FILE_NAME = "slack-export.zip"
_LISTS = {
    "public": "channels.json",
    "private": "groups.json",
    "mpim": "mpims.json",
    "im": "dms.json",
}


def export_slack(context: RenderContext) -> None:
    """Write ``slack-export.zip`` (day slices are required)."""
    if notice_instead(context):
        return
    if context.out.done(FILE_NAME):
        return
    users: dict[str, tuple[Actor, str]] = {}
    lists: dict[str, list[dict[str, Any]]] = {name: [] for name in _LISTS.values()}
    with (
        context.out.create(FILE_NAME, seekable=True) as handle,
        zipfile.ZipFile(handle, "w") as archive,
    ):
        folders: set[str] = set()
        for conversation in context.conversations():
            folder = _folder(conversation, folders)
            shape = scan(context, conversation)
            for number in context.store.slices(conversation):
                day = context.store.slice_start(number).strftime("%Y-%m-%d")
                objects = _objects(context, conversation, number, shape, users)
                first = next(objects, None)
                if first is None:
                    continue
                with archive.open(_entry(f"{folder}/{day}.json"), "w") as entry:
                    _write_array(entry, first, objects)
            info = conversation_info(conversation, folder, shape)
            lists[_LISTS[conversation.access]].append(info)
        for name, entries in lists.items():
            _write_json(archive, name, entries)
        _write_json(archive, "users.json", [_user(*users[key]) for key in sorted(users)])


def _entry(name: str) -> zipfile.ZipInfo:
    info = zipfile.ZipInfo(name, ZIP_DATE)
    info.compress_type = zipfile.ZIP_DEFLATED
    info.external_attr = 0o644 << 16
    return info


def _folder(conversation: Conversation, used: set[str]) -> str:
    if conversation.access == "im":
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
    shape: Shape,
    users: dict[str, tuple[Actor, str]],
) -> Iterator[dict[str, Any]]:
    for item in context.items(conversation, number):
        if item.actor is not None:
            users[item.actor.id] = (item.actor, conversation.workspace)
        extra = (item.pinned_by,) if isinstance(item, Message) else item.members
        for actor in extra:
            if actor is not None:
                users.setdefault(actor.id, (actor, conversation.workspace))
        if isinstance(item, Message):
            if item.pin_only:
                yield pin_object(conversation, item)
            else:
                yield message_object(conversation, item, shape)
        else:
            yield from event_objects(conversation, item)


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
