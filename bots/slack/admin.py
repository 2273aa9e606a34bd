"""``/chatkeeper on|off|status|list|help`` and the same words in an @mention.

Only workspace admins/owners (``users.info``) or ``capture.admin_user_ids`` may
change monitoring; everyone gets an answer. Every attempt is journaled as an
``admin_action`` record before the reply is sent.
"""

from __future__ import annotations

import asyncio
from collections.abc import Callable, Coroutine
from dataclasses import dataclass
from datetime import datetime
from typing import Any

import structlog
from aiohttp import ClientError
from slack_sdk.errors import SlackApiError, SlackClientError
from slack_sdk.web.async_client import AsyncWebClient

from archive.codec import format_time
from archive.journal import Journal
from archive.journal.aio import AsyncJournal
from archive.model import Actor, Platform, Source
from bots.admin import (
    CHANGES_MONITORING,
    AdminAttempt,
    Command,
    is_authorized,
    parse_words,
    record_attempt,
)
from bots.slack.directory import IdentityCache

log = structlog.get_logger("chatkeeper.slack.admin")

HELP = (
    "chatkeeper archives this conversation for compliance.\n"
    "`on [--backfill[=DAYS]]` start capturing here (admins only)\n"
    "`off` stop capturing here (admins only)\n"
    "`status` what is captured here, since when, and the last sealed bundle\n"
    "`list` every conversation captured in this workspace\n"
    "`help` this message"
)


@dataclass(frozen=True, slots=True)
class AdminRequest:
    team: str
    channel: str
    user: str
    text: str
    identity: str  # trigger_id (slash command) or event_id (@mention)
    source: Source
    raw: bytes
    occurred_at: datetime
    captured_at: datetime


class AdminDesk:
    """Decides, journals and carries out admin commands."""

    def __init__(
        self,
        journal: Journal,
        client: AsyncWebClient,
        identity: IdentityCache,
        *,
        admin_user_ids: tuple[str, ...],
        stream: str,
        capture_mode: str = "opt_in",
        on_backfill: Callable[[str, str, int], Coroutine[Any, Any, object]] | None = None,
    ) -> None:
        self._journal = journal
        self._aio = AsyncJournal(journal)
        self._client = client
        self._identity = identity
        self._admins = admin_user_ids
        self._stream = stream
        self._capture_mode = capture_mode
        self._on_backfill = on_backfill
        self.tasks: set[asyncio.Task[object]] = set()

    async def handle(self, request: AdminRequest) -> str:
        parsed = parse_words(request.text)
        user, conversation = await asyncio.gather(
            self._identity.user(request.user), self._identity.conversation(request.channel)
        )
        actor = user.actor if user else Actor(id=request.user)
        platform_admin = bool(user and user.is_admin)
        authorized = is_authorized(
            request.user, platform_admin=platform_admin, configured_admins=self._admins
        )
        if parsed.command is None:
            allowed, reason = False, parsed.error or "not understood"
        elif parsed.command in CHANGES_MONITORING and not authorized:
            allowed, reason = False, "not a workspace admin or configured admin"
        else:
            allowed, reason = True, "admin" if authorized else "read-only command"
        await record_attempt(
            self._journal,
            AdminAttempt(
                platform=Platform.SLACK,
                workspace=request.team,
                conversation=request.channel,
                conversation_name=conversation.name if conversation else None,
                actor=actor,
                command=parsed.command,
                words=request.text,
                allowed=allowed,
                reason=reason,
                identity=request.identity,
                source=request.source,
                occurred_at=request.occurred_at,
                captured_at=request.captured_at,
                raw=request.raw,
            ),
        )
        if parsed.command is None:
            return f"Sorry, I did not understand that ({reason}).\n{HELP}"
        if not allowed:
            return (
                "Sorry, only workspace admins and owners can change what chatkeeper captures. "
                "Your request was recorded."
            )
        if parsed.command is Command.ON:
            return await self._turn_on(
                request, conversation.type if conversation else None, parsed.backfill_days
            )
        if parsed.command is Command.OFF:
            return "Capture is now *off* for this conversation. Earlier records stay archived."
        if parsed.command is Command.STATUS:
            return await self._status(request)
        if parsed.command is Command.LIST:
            return await self._list(request.team)
        return HELP

    async def _turn_on(self, request: AdminRequest, kind: str | None, backfill: int | None) -> str:
        lines = ["Capture is now *on* for this conversation."]
        if kind == "public_channel":
            try:
                await self._client.conversations_join(channel=request.channel)
            except (SlackApiError, SlackClientError, OSError, ClientError, TimeoutError) as exc:
                log.warning("slack.join_failed", channel=request.channel, error=type(exc).__name__)
                lines.append("I could not join this channel; please `/invite` me.")
        elif kind in {"private_channel", "mpim"}:
            lines.append(
                "This is a private conversation: I can only see it once a member invites me "
                "(`/invite @chatkeeper`)."
            )
        if backfill and self._on_backfill is not None:
            task = asyncio.create_task(self._on_backfill(request.team, request.channel, backfill))
            self.tasks.add(task)
            task.add_done_callback(self.tasks.discard)
            lines.append(f"Fetching the last {backfill} days of history in the background.")
        return "\n".join(lines)

    async def _status(self, request: AdminRequest) -> str:
        entries = [
            m
            for m in await self._aio.monitoring(Platform.SLACK.value)
            if m.workspace == request.team and m.conversation == request.channel
        ]
        stats = await self._aio.stats(self._stream)
        sealed = stats.last_sealed
        bundle = (
            f"last sealed bundle: #{sealed.number} at {format_time(sealed.created_at)}"
            if sealed
            else "no bundle sealed yet"
        )
        if entries and entries[0].enabled:
            head = f"Capture is *on* here since {format_time(entries[0].changed_at)}"
        elif entries:
            head = f"Capture is *off* here since {format_time(entries[0].changed_at)}"
        else:
            head = "Capture is *off* here (never turned on)"
        if self._capture_mode == "all":
            head = 'Capture is *on* for every conversation I am in (capture mode "all")'
        return f"{head}; captured: messages, edits, deletes, reactions, pins, membership, files; {bundle}."

    async def _list(self, team: str) -> str:
        names = [
            f"- {m.conversation_name or m.conversation} (since {format_time(m.changed_at)})"
            for m in await self._aio.monitoring(Platform.SLACK.value)
            if m.workspace == team and m.enabled
        ]
        return (
            "Captured conversations:\n" + "\n".join(names) if names else "Nothing is captured yet."
        )
