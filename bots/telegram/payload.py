"""Pure readers of a Bot API ``Message`` (a JSON dict): actor, text, media and service kind."""

from __future__ import annotations

from collections.abc import Mapping
from datetime import UTC, datetime
from typing import Any

from archive.model import Actor, Attachment, AttachmentState, Kind

JSON = Mapping[str, Any]

# Media fields that carry a downloadable file, in the order they are checked.
# ``document`` comes after ``animation``: Telegram sends both for a GIF.
MEDIA_FIELDS = ("animation", "document", "audio", "video", "video_note", "voice", "sticker")
_DEFAULT_EXT = {
    "photo": ".jpg",
    "voice": ".ogg",
    "video_note": ".mp4",
    "video": ".mp4",
    "animation": ".mp4",
    "audio": ".mp3",
    "sticker": ".webp",
    "document": "",
}
# Service message fields and the kind they map to (None: kept as ``other``).
SERVICE_FIELDS: dict[str, Kind] = {
    "new_chat_members": Kind.MEMBER_JOINED,
    "left_chat_member": Kind.MEMBER_LEFT,
    "new_chat_title": Kind.CONVERSATION_RENAMED,
    "pinned_message": Kind.PIN_ADDED,
    "new_chat_photo": Kind.OTHER,
    "delete_chat_photo": Kind.OTHER,
    "group_chat_created": Kind.OTHER,
    "supergroup_chat_created": Kind.OTHER,
    "channel_chat_created": Kind.OTHER,
    "migrate_to_chat_id": Kind.OTHER,
    "migrate_from_chat_id": Kind.OTHER,
    "message_auto_delete_timer_changed": Kind.OTHER,
    "forum_topic_created": Kind.OTHER,
    "forum_topic_edited": Kind.OTHER,
    "forum_topic_closed": Kind.OTHER,
    "forum_topic_reopened": Kind.OTHER,
    "video_chat_started": Kind.OTHER,
    "video_chat_ended": Kind.OTHER,
}


def timestamp(seconds: Any) -> datetime:
    return datetime.fromtimestamp(int(seconds), tz=UTC)


def user_actor(user: JSON) -> Actor:
    name = " ".join(p for p in (user.get("first_name"), user.get("last_name")) if p)
    return Actor(
        id=str(user["id"]),
        name=name or user.get("username"),
        is_bot=bool(user.get("is_bot", False)),
    )


def chat_actor(chat: JSON) -> Actor:
    return Actor(id=str(chat["id"]), name=chat_name(chat))


def chat_name(chat: JSON) -> str | None:
    if chat.get("title"):
        return str(chat["title"])
    name = " ".join(p for p in (chat.get("first_name"), chat.get("last_name")) if p)
    return name or chat.get("username")


def message_actor(message: JSON) -> Actor | None:
    """``sender_chat`` (anonymous admin, channel) wins over ``from`` (a placeholder then)."""
    if isinstance(message.get("sender_chat"), Mapping):
        return chat_actor(message["sender_chat"])
    if isinstance(message.get("from"), Mapping):
        return user_actor(message["from"])
    return None


def message_text(message: JSON) -> str | None:
    for name in ("text", "caption"):
        if isinstance(message.get(name), str):
            return str(message[name])
    return None


def service_of(message: JSON) -> str | None:
    """The service field present in ``message``, if it is a service message."""
    return next((name for name in SERVICE_FIELDS if name in message), None)


def message_kind(message: JSON, default: Kind) -> Kind:
    service = service_of(message)
    return default if service is None else SERVICE_FIELDS[service]


def largest_photo(sizes: list[JSON]) -> JSON:
    return max(sizes, key=lambda s: (s.get("width", 0) * s.get("height", 0), s.get("file_size", 0)))


def media_files(message: JSON) -> list[tuple[str, JSON]]:
    """``(media kind, file object)`` for every downloadable file of the message."""
    found: list[tuple[str, JSON]] = []
    photo = message.get("photo")
    if isinstance(photo, list) and photo:
        found.append(("photo", largest_photo(photo)))
    for name in MEDIA_FIELDS:
        if name == "document" and "animation" in message:
            continue
        item = message.get(name)
        if isinstance(item, Mapping) and "file_id" in item:
            found.append((name, item))
    return found


def file_name(media: str, item: JSON) -> str:
    if isinstance(item.get("file_name"), str) and item["file_name"]:
        return str(item["file_name"])
    return f"{media}-{item.get('file_unique_id', 'unknown')}{_DEFAULT_EXT.get(media, '')}"


def pending_attachments(message: JSON) -> tuple[Attachment, ...]:
    """Every file of the message, ``pending`` until the fetch worker stores it."""
    return tuple(
        Attachment(
            name=file_name(media, item),
            state=AttachmentState.PENDING,
            mime=item.get("mime_type"),
            size=item.get("file_size"),
            ref=item.get("file_unique_id"),
        )
        for media, item in media_files(message)
    )


def message_details(message: JSON) -> dict[str, Any]:
    """Facts worth keeping beside the raw payload: forwards, albums, topics, services."""
    details: dict[str, Any] = {}
    for name in ("media_group_id", "forward_origin", "is_automatic_forward", "is_topic_message"):
        if name in message:
            details[name] = message[name]
    if isinstance(message.get("from"), Mapping):
        details["from_id"] = message["from"]["id"]
    service = service_of(message)
    if service is not None:
        details["service"] = service
        value = message[service]
        if service == "new_chat_members":
            members = [m for m in value if isinstance(m, Mapping)]
            details["members"] = [m.get("id") for m in members]
            details["member_names"] = [user_actor(m).name for m in members if "id" in m]
        elif service == "left_chat_member" and isinstance(value, Mapping):
            details["members"] = [value.get("id")]
            if "id" in value:
                details["member_names"] = [user_actor(value).name]
        elif service == "new_chat_title":
            details["new_name"] = value
        elif service == "pinned_message" and isinstance(value, Mapping):
            details["pinned_message_id"] = value.get("message_id")
        elif service.startswith("forum_topic_") and isinstance(value, Mapping):
            if isinstance(value.get("name"), str):
                details["topic_name"] = value["name"]
        elif isinstance(value, int | str | bool):
            details[service] = value
    return details
