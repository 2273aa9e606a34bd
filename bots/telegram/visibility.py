"""Can the bot see every message of a group? Privacy mode on and not an admin means no.

``getMe.can_read_all_group_messages`` is the bot's global privacy setting (and
a change only applies after the bot is re-added to a group);
``getChatMember(chat, bot)`` tells whether it is an administrator there, which
always gives full visibility. A limited chat is announced once in the chat
itself and kept in a small JSON book under the state directory, which
``chatkeeper status`` reads (:func:`visibility_warnings`).
"""

from __future__ import annotations

import json
import os
import tempfile
from collections.abc import Mapping
from dataclasses import asdict, dataclass
from pathlib import Path
from typing import Any

import structlog
from telegram import Bot, Update
from telegram.constants import ChatMemberStatus, ChatType
from telegram.error import TelegramError
from telegram.ext import ChatMemberHandler, ContextTypes

from archive.clock import Clock
from archive.codec import format_time

log = structlog.get_logger("chatkeeper.telegram.visibility")
BOOK_NAME = "telegram-visibility.json"
LIMITED = (
    "chatkeeper cannot see all messages here: privacy mode is on and the bot is not an "
    "administrator, so it only receives commands and replies to it. Make the bot an "
    "administrator (or disable privacy mode with @BotFather and add the bot again)."
)
_ADMIN = {ChatMemberStatus.OWNER, ChatMemberStatus.ADMINISTRATOR}


@dataclass(frozen=True)
class Visibility:
    chat_id: int
    chat_title: str | None
    status: str
    privacy_on: bool
    sees_all: bool
    checked_at: str

    @property
    def warning(self) -> str | None:
        return None if self.sees_all else LIMITED


class VisibilityBook:
    """The last check per chat, in ``<home>/telegram-visibility.json`` (or memory only)."""

    def __init__(self, path: Path | None) -> None:
        self.path = path
        self.entries: dict[str, dict[str, Any]] = {}
        if path is not None and path.is_file():
            self.entries = json.loads(path.read_text(encoding="utf-8"))

    def get(self, chat_id: int) -> Mapping[str, Any] | None:
        return self.entries.get(str(chat_id))

    def put(self, visibility: Visibility) -> None:
        self.entries[str(visibility.chat_id)] = asdict(visibility)
        if self.path is None:
            return
        self.path.parent.mkdir(parents=True, exist_ok=True)
        fd, tmp = tempfile.mkstemp(dir=self.path.parent, prefix=".visibility-")
        with os.fdopen(fd, "w", encoding="utf-8") as handle:
            json.dump(self.entries, handle, sort_keys=True, indent=1)
        Path(tmp).replace(self.path)


def visibility_warnings(home: Path) -> list[str]:
    """One line per monitored-or-seen Telegram chat the bot cannot fully see (for status)."""
    book = VisibilityBook(home / BOOK_NAME)
    return [
        f"telegram chat {chat_id} ({entry.get('chat_title') or '?'}): privacy mode on and bot "
        f"is {entry.get('status')}, not an administrator (checked {entry.get('checked_at')})"
        for chat_id, entry in sorted(book.entries.items())
        if not entry.get("sees_all", True)
    ]


class VisibilityMonitor:
    def __init__(self, book: VisibilityBook, clock: Clock) -> None:
        self.book = book
        self.clock = clock

    async def check(
        self, bot: Bot, chat_id: int, *, title: str | None = None, announce: bool = True
    ) -> Visibility | None:
        """Check one chat; announce in the chat when it newly became limited."""
        try:
            me = await bot.get_me()
            chat = await bot.get_chat_member(chat_id, me.id)
        except TelegramError as exc:
            log.warning("telegram.visibility_unknown", chat=chat_id, error=type(exc).__name__)
            return None
        previous = self.book.get(chat_id)
        privacy_on = not bool(me.can_read_all_group_messages)
        visibility = Visibility(
            chat_id=chat_id,
            chat_title=title or (previous.get("chat_title") if previous else None),
            status=str(chat.status),
            privacy_on=privacy_on,
            sees_all=chat.status in _ADMIN or not privacy_on,
            checked_at=format_time(self.clock.now()),
        )
        self.book.put(visibility)
        if not visibility.sees_all:
            log.warning("telegram.visibility_limited", chat=chat_id, status=visibility.status)
            if announce and (previous is None or previous.get("sees_all", True)):
                try:
                    await bot.send_message(chat_id, LIMITED)
                except TelegramError as exc:
                    log.warning("telegram.reply_failed", chat=chat_id, error=type(exc).__name__)
        return visibility

    async def note(self, bot: Bot, chat_id: int) -> str | None:
        """The warning to add to an admin command's reply, if any (no separate message)."""
        if chat_id > 0:
            return None
        visibility = await self.check(bot, chat_id, announce=False)
        return visibility.warning if visibility else None

    def handler(self) -> ChatMemberHandler[Any, None]:
        """Re-check whenever the bot's own status in a group changes."""

        async def callback(update: Update, context: ContextTypes.DEFAULT_TYPE) -> None:
            change = update.my_chat_member
            if change is None or change.chat.type not in {ChatType.GROUP, ChatType.SUPERGROUP}:
                return
            if change.new_chat_member.status in {ChatMemberStatus.LEFT, ChatMemberStatus.BANNED}:
                return
            await self.check(context.bot, change.chat.id, title=change.chat.title)

        return ChatMemberHandler(callback, ChatMemberHandler.MY_CHAT_MEMBER)
