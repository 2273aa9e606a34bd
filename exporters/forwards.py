"""Where a Telegram forward came from, in words, for every format that shows it."""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any


def forward_origin(details: Mapping[str, Any] | None) -> str | None:
    """A Telegram forward's origin in words: live ``forward_origin`` or an export's
    ``forwarded_from``."""
    if not details:
        return None
    origin = details.get("forward_origin")
    if isinstance(origin, Mapping):
        kind = origin.get("type")
        if kind in ("channel", "chat"):
            chat = origin.get("chat") if kind == "channel" else origin.get("sender_chat")
            chat = chat if isinstance(chat, Mapping) else {}
            name = chat.get("title") or chat.get("username") or chat.get("id") or "a chat"
            text = f"{'channel' if kind == 'channel' else 'chat'} {name}"
            if origin.get("message_id") is not None:
                text += f" (message {origin['message_id']})"
            if origin.get("author_signature"):
                text += f", signed {origin['author_signature']}"
            return text
        if kind == "user" and isinstance(origin.get("sender_user"), Mapping):
            user = origin["sender_user"]
            name = " ".join(str(p) for p in (user.get("first_name"), user.get("last_name")) if p)
            return f"{name or user.get('username') or user.get('id')} ({user.get('id')})"
        if kind == "hidden_user":
            return f"{origin.get('sender_user_name') or 'a hidden user'} (hidden account)"
    named = details.get("forwarded_from")
    return str(named) if named else None
