"""Bot API payloads shaped on the documented fields, for the sandbox demo and the tests."""

from __future__ import annotations

from typing import Any

JSONDict = dict[str, Any]
BASE_DATE = 1_793_000_000  # 2026-10-26, a Monday morning UTC
ANONYMOUS_ADMIN = {
    "id": 1087968824,
    "is_bot": True,
    "first_name": "Group",
    "username": "GroupAnonymousBot",
}


ADMIN_RIGHTS = (
    "can_manage_chat",
    "can_delete_messages",
    "can_manage_video_chats",
    "can_restrict_members",
    "can_promote_members",
    "can_change_info",
    "can_invite_users",
    "can_post_stories",
    "can_edit_stories",
    "can_delete_stories",
)


def user(user_id: int, first_name: str, username: str | None = None) -> JSONDict:
    data: JSONDict = {"id": user_id, "is_bot": False, "first_name": first_name}
    if username:
        data["username"] = username
    return data


def supergroup(chat_id: int = -1001234567890, title: str = "Deals desk") -> JSONDict:
    return {"id": chat_id, "type": "supergroup", "title": title}


def channel(chat_id: int = -1009876543210, title: str = "Research notes") -> JSONDict:
    return {"id": chat_id, "type": "channel", "title": title}


def private(person: JSONDict) -> JSONDict:
    return {"id": person["id"], "type": "private", "first_name": person["first_name"]}


def message(
    chat: JSONDict,
    sender: JSONDict | None,
    message_id: int,
    text: str | None = None,
    *,
    date: int = BASE_DATE,
    **extra: Any,
) -> JSONDict:
    data: JSONDict = {"message_id": message_id, "date": date, "chat": chat}
    if sender is not None:
        data["from"] = sender
    if text is not None:
        data["text"] = text
        if text.startswith("/"):
            command = text.split()[0]
            data["entities"] = [{"type": "bot_command", "offset": 0, "length": len(command)}]
    data.update(extra)
    return data


def edited(original: JSONDict, text: str, *, edit_date: int) -> JSONDict:
    data = dict(original, text=text, edit_date=edit_date)
    data.pop("entities", None)
    return data


def photo_sizes(file: JSONDict, *, width: int = 1280, height: int = 960) -> list[JSONDict]:
    """A thumbnail and the full size (the largest is the one to download)."""
    thumb = {
        "file_id": file["file_id"] + "-thumb",
        "file_unique_id": file["file_unique_id"] + "t",
        "file_size": 1_024,
        "width": 90,
        "height": 67,
    }
    full = dict(file, width=width, height=height)
    return [thumb, full]


def reaction(
    chat: JSONDict,
    reactor: JSONDict,
    message_id: int,
    *,
    old: tuple[str, ...] = (),
    new: tuple[str, ...] = (),
    date: int = BASE_DATE,
) -> JSONDict:
    return {
        "chat": chat,
        "message_id": message_id,
        "user": reactor,
        "date": date,
        "old_reaction": [{"type": "emoji", "emoji": e} for e in old],
        "new_reaction": [{"type": "emoji", "emoji": e} for e in new],
    }


def member_update(
    chat: JSONDict, actor: JSONDict, member: JSONDict, old: str, new: str, *, date: int = BASE_DATE
) -> JSONDict:
    return {
        "chat": chat,
        "from": actor,
        "date": date,
        "old_chat_member": chat_member(old, member),
        "new_chat_member": chat_member(new, member),
    }


def chat_member(status: str, member: JSONDict) -> JSONDict:
    """A ChatMember with the fields Telegram sends for ``status``."""
    data: JSONDict = {"status": status, "user": member}
    if status == "creator":
        data["is_anonymous"] = False
    elif status == "administrator":
        data.update(dict.fromkeys(ADMIN_RIGHTS, True), can_be_edited=False, is_anonymous=False)
    elif status == "kicked":
        data["until_date"] = 0
    return data
