"""Our own getUpdates loop: journal first, then advance the offset.

Telegram confirms every update below the ``offset`` of the next getUpdates
call, so the offset moves past a batch only after the batch is durable. A
crash (or a journal failure) before that leaves the batch unconfirmed and
Telegram delivers it again; the record keys make the second copy a no-op.
The exact bytes of each update are sliced out of the response
(:mod:`bots.telegram.raw_updates`), never re-serialized.
"""

from __future__ import annotations

import asyncio
import contextlib
import time

import structlog
from telegram import Update
from telegram.error import TelegramError

from archive.errors import JournalError, PayloadError
from archive.model import Source
from archive.observe import observer
from bots.telegram.application import TelegramRuntime
from bots.telegram.raw_updates import split_updates

log = structlog.get_logger("chatkeeper.telegram.polling")
_MAX_BACKOFF = 30.0


class PollingLoop:
    def __init__(self, runtime: TelegramRuntime, *, timeout: int | None = None) -> None:
        self.runtime = runtime
        self.timeout = runtime.settings.poll_timeout_seconds if timeout is None else timeout
        self.limit = runtime.settings.poll_limit
        self.offset: int | None = None  # None: Telegram's oldest unconfirmed update

    async def poll_once(self, timeout: int | None = None) -> int:
        """Fetch one batch, journal it, and move the offset past it; returns its size.

        Raises ``JournalError`` (offset unchanged) if the batch could not be made durable.
        """
        bot = self.runtime.application.bot
        request = self.runtime.updates_request
        request.last_payload = b""
        try:
            await bot.get_updates(
                offset=self.offset,
                limit=self.limit,
                timeout=self.timeout if timeout is None else timeout,
                allowed_updates=Update.ALL_TYPES,
            )
        except (TypeError, ValueError, KeyError) as exc:
            # PTB could not build an Update object; we keep the raw update anyway.
            if not request.last_payload:
                raise
            log.warning("telegram.update_not_parsed", error=type(exc).__name__)
        updates = split_updates(request.last_payload)
        if not updates:
            return 0
        received = time.perf_counter()
        await self.runtime.capture.capture_updates(updates, Source.POLLING)
        self.offset = max(u["update_id"] for _, u in updates) + 1  # confirmed by the next poll
        observer().acked("telegram", time.perf_counter() - received)
        return len(updates)

    async def run(self, stop: asyncio.Event) -> None:
        """Poll until ``stop`` is set; back off on network or journal errors."""
        backoff = 0.5
        while not stop.is_set():
            try:
                await self.poll_once()
                observer().connection("telegram", True)
                backoff = 0.5
            except TelegramError as exc:
                observer().connection("telegram", False)
                log.warning("telegram.poll_failed", error=type(exc).__name__, retry_in=backoff)
                with contextlib.suppress(TimeoutError):
                    await asyncio.wait_for(stop.wait(), backoff)
                backoff = min(backoff * 2, _MAX_BACKOFF)
            except (JournalError, PayloadError) as exc:
                log.warning("telegram.poll_failed", error=type(exc).__name__, retry_in=backoff)
                with contextlib.suppress(TimeoutError):
                    await asyncio.wait_for(stop.wait(), backoff)
                backoff = min(backoff * 2, _MAX_BACKOFF)
        observer().connection("telegram", False)
        await self.confirm()

    async def confirm(self) -> None:
        """Confirm the last durable batch now rather than on the next start."""
        if self.offset is None:
            return
        try:
            await self.runtime.application.bot.get_updates(
                offset=self.offset, limit=1, timeout=0, allowed_updates=Update.ALL_TYPES
            )
        except TelegramError as exc:  # harmless: the batch is redelivered and deduplicated
            log.warning("telegram.confirm_failed", error=type(exc).__name__)
