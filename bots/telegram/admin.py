"""``/archive_on``, ``/archive_off``, ``/archive_status`` through python-telegram-bot handlers.

Who may use them: user ids in ``capture.admin_user_ids``, anonymous administrators
(``sender_chat`` is the chat itself), and whoever ``getChatMember`` reports as
the chat's creator or an administrator. Every attempt becomes an
``admin_action`` record (shared grammar in :mod:`bots.admin`), keyed by chat
and message id so a redelivered command is recorded once. Edited messages never
run a command: the handlers accept only new ``message`` and ``channel_post``
updates.
"""

from __future__ import annotations

import contextvars
from collections.abc import Awaitable, Callable, Collection
from dataclasses import dataclass
from typing import Any

import structlog
from telegram import BotCommand, Message, Update
from telegram.constants import ChatMemberStatus
from telegram.error import TelegramError
from telegram.ext import BaseHandler, CommandHandler, ContextTypes, MessageHandler, filters

from archive.clock import Clock
from archive.journal import Journal
from archive.journal.aio import AsyncJournal
from archive.model import Actor, Platform, Source
from bots.admin import (
    TELEGRAM_COMMANDS,
    AdminAttempt,
    Command,
    admin_action_record,
    parse_telegram,
    record_attempt,
)

log = structlog.get_logger("chatkeeper.telegram.admin")

# The exact bytes of the update being processed, set by the capture step before it
# hands the update to the Application (handlers run inline in that task).
current_raw: contextvars.ContextVar[bytes] = contextvars.ContextVar("telegram_raw_update")
current_source: contextvars.ContextVar[Source] = contextvars.ContextVar("telegram_source")

BOT_COMMANDS = (
    BotCommand("archive_on", "Start archiving this chat (administrators)"),
    BotCommand("archive_off", "Stop archiving this chat (administrators)"),
    BotCommand("archive_status", "Is this chat archived? (administrators)"),
)
_ADMIN_STATUSES = {ChatMemberStatus.OWNER, ChatMemberStatus.ADMINISTRATOR}

# Called after an allowed ``on``/``status`` to add visibility warnings to the reply.
VisibilityNote = Callable[[int], Awaitable[str | None]]


@dataclass(frozen=True)
class AdminPolicy:
    journal: Journal
    clock: Clock
    bot_id: str
    configured_admins: Collection[str]
    visibility_note: VisibilityNote | None = None


def command_handlers(policy: AdminPolicy) -> list[BaseHandler[Update, Any, None]]:
    """The three commands in new group messages and in channel posts; never in edits.

    PTB's CommandHandler ignores channel posts, so those are matched by a
    MessageHandler: a channel post is always written by the channel's admins
    (its ``sender_chat`` is the channel itself).
    """

    async def callback(update: Update, context: ContextTypes.DEFAULT_TYPE) -> None:
        message = update.message or update.channel_post
        if message is not None:
            await handle_command(policy, update, message)

    pattern = r"^/(" + "|".join(TELEGRAM_COMMANDS) + r")(@\w+)?(\s|$)"
    return [
        CommandHandler(list(TELEGRAM_COMMANDS), callback, filters=filters.UpdateType.MESSAGE),
        MessageHandler(filters.UpdateType.CHANNEL_POST & filters.Regex(pattern), callback),
    ]


def _actor(message: Message) -> Actor:
    if message.sender_chat is not None:
        return Actor(id=str(message.sender_chat.id), name=message.sender_chat.title)
    user = message.from_user
    if user is None:
        return Actor(id="unknown")
    return Actor(id=str(user.id), name=user.full_name, is_bot=user.is_bot)


async def authorize(policy: AdminPolicy, message: Message) -> tuple[bool, str]:
    """(allowed, reason) for the sender of ``message`` in its chat."""
    chat = message.chat
    if message.sender_chat is not None and message.sender_chat.id == chat.id:
        return True, "anonymous administrator of this chat"
    user = message.from_user
    if user is None:
        return False, "message has no sender"
    if str(user.id) in policy.configured_admins:
        return True, "listed in capture.admin_user_ids"
    try:
        member = await message.get_bot().get_chat_member(chat.id, user.id)
    except TelegramError as exc:
        return False, f"could not check membership ({type(exc).__name__})"
    if member.status in _ADMIN_STATUSES:
        return True, f"chat {member.status}"
    return False, f"chat {member.status}, not an administrator"


async def handle_command(policy: AdminPolicy, update: Update, message: Message) -> None:
    bot = message.get_bot()
    parsed = parse_telegram(message.text or "", bot.username)
    if parsed is None or parsed.command is None:
        return
    allowed, reason = await authorize(policy, message)
    chat = message.chat
    now = policy.clock.now()
    attempt = AdminAttempt(
        platform=Platform.TELEGRAM,
        workspace=policy.bot_id,
        conversation=str(chat.id),
        conversation_name=chat.title or chat.full_name,
        actor=_actor(message),
        command=parsed.command,
        words=(message.text or "")[:256],
        allowed=allowed,
        reason=reason,
        identity=f"{chat.id}:{message.message_id}",
        source=current_source.get(Source.WEBHOOK),
        occurred_at=message.date,
        captured_at=now,
        raw=current_raw.get(b""),
    )
    # A redelivered command (crash before the acknowledgement) is recorded once and
    # applied again (idempotent), but answered only the first time.
    seen = bool(await AsyncJournal(policy.journal).contains([admin_action_record(attempt).key]))
    await record_attempt(policy.journal, attempt)
    log.info(
        "telegram.admin_command",
        chat=chat.id,
        command=parsed.command.value,
        allowed=allowed,
    )
    if not seen:
        await _reply(policy, message, parsed.command, allowed)


async def _reply(policy: AdminPolicy, message: Message, command: Command, allowed: bool) -> None:
    if not allowed:
        text = "Only this chat's administrators can use the archive commands."
    else:
        on = await AsyncJournal(policy.journal).is_monitored(
            "telegram", policy.bot_id, str(message.chat.id)
        )
        text = f"Archiving is {'on' if on else 'off'} for this chat."
        if on and policy.visibility_note is not None:
            note = await policy.visibility_note(message.chat.id)
            if note:
                text = f"{text}\n{note}"
    try:
        await message.reply_text(text)
    except TelegramError as exc:  # the audit record is already durable; a reply is a courtesy
        log.warning("telegram.reply_failed", chat=message.chat.id, error=type(exc).__name__)
