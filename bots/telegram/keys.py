"""Record keys for Telegram events (the key scheme is documented in docs/telegram.md).

Message ids belong to the chat only in supergroups and channels (ids at or
below -10^12, the ``-100...`` form). There, a message has one identity however
it reached us (any bot, webhook, polling or a Desktop export), so its key is
chat-scoped. In private chats and basic groups each account counts its own
message ids, so the key is scoped to the bot; in business chats it is scoped to
the bot and the business connection. Events that are not messages (reactions,
membership changes, ...) are keyed by bot id and ``update_id``.
"""

from __future__ import annotations

from archive.model import record_key

PLATFORM = "telegram"
_CHANNEL_ID_FLOOR = -1_000_000_000_000


def is_channel_id(chat_id: int) -> bool:
    """True for supergroups and channels, whose message ids are shared by every reader."""
    return chat_id <= _CHANNEL_ID_FLOOR


def message_scope(bot_id: str, chat_id: int, business_connection_id: str | None = None) -> str:
    """The scope in which ``(chat_id, message_id)`` names one message."""
    if business_connection_id:
        return f"bot:{bot_id}:business:{business_connection_id}"
    if is_channel_id(chat_id):
        return "chat"
    return f"bot:{bot_id}"


def message_key(scope: str, chat_id: int, message_id: int, edit_date: int = 0) -> str:
    """The key of a message (``edit_date`` 0) or of one edited version of it."""
    kind = "edit" if edit_date else "message"
    return record_key(PLATFORM, scope, chat_id, message_id, kind, edit_date)


def update_key(bot_id: str, update_id: int, part: str = "") -> str:
    """The key of a non-message update, optionally one ``part`` of it."""
    return record_key(PLATFORM, f"bot:{bot_id}", "update", update_id, part)


def export_key(chat_id: int, from_id: str, unixtime: int, text_sha256: str) -> str:
    """The key of an imported message whose id is private to the exporting account."""
    return record_key(PLATFORM, "export", chat_id, from_id, unixtime, text_sha256)


def supergroup_chat_id(bare_id: int) -> int:
    """The Bot API id of a supergroup or channel from the bare id in an export."""
    return -(1_000_000_000_000 + bare_id)
