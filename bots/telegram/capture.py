"""From a verified Telegram delivery to durable records: the capture path webhook and polling call.

Each batch of updates is translated (:mod:`bots.telegram.translate`, pure),
filtered by :func:`archive.capture.should_capture`, and handed with its file
fetches to :func:`archive.capture.capture`; then the PTB handlers run. The caller acknowledges Telegram (HTTP 200, or the next getUpdates offset) only
after :meth:`TelegramCapture.capture_updates` returns: by then the records are durable and
any admin command in the batch has been recorded. If the journal fails,
``JournalError`` propagates and the caller must not acknowledge.
"""

from __future__ import annotations

import asyncio
import contextvars
from collections.abc import Sequence
from dataclasses import replace
from typing import Any

import structlog
from telegram import Update
from telegram.ext import Application

from archive.capture import capture, should_capture
from archive.clock import Clock
from archive.errors import JournalError
from archive.journal import Journal
from archive.journal.aio import AsyncJournal
from archive.model import Kind, Record, Source
from bots.telegram.admin import current_raw, current_source
from bots.telegram.files import file_fetches
from bots.telegram.translate import Delivery, translate_update, update_type

log = structlog.get_logger("chatkeeper.telegram.capture")

_failures: contextvars.ContextVar[list[JournalError]] = contextvars.ContextVar("handler_failures")
RawUpdate = tuple[bytes, dict[str, Any]]
# Update types the Application must see after the journal commit.
_HANDLED = {"message", "channel_post", "my_chat_member"}


def needs_handlers(update: dict[str, Any]) -> bool:
    """Only commands and the bot's own membership changes run PTB handlers."""
    kind = update_type(update)
    if kind not in _HANDLED:
        return False
    if kind in {"message", "channel_post"}:
        body = update[kind]
        text = body.get("text") if isinstance(body, dict) else None
        return isinstance(text, str) and text.startswith("/")
    return True


def _wanted(record: Record, captured: dict[str, bool]) -> bool:
    if not record.conversation or "business_connection_id" in record.details:
        return True  # no chat to opt in, or a business connection (the owner opted in)
    return captured[record.conversation]


class TelegramCapture:
    def __init__(
        self,
        journal: Journal,
        application: Application[Any, Any, Any, Any, Any, Any],
        *,
        bot_id: str,
        capture_mode: str,
        clock: Clock,
    ) -> None:
        self.journal = journal
        self.aio = AsyncJournal(journal)
        self.application = application
        self.bot_id = bot_id
        self.capture_mode = capture_mode
        self.clock = clock
        application.add_error_handler(self._on_handler_error)

    async def translate(self, updates: Sequence[RawUpdate], source: Source) -> list[Record]:
        """The records of ``updates`` whose conversation is captured."""
        delivery = Delivery(self.bot_id, source, self.clock.now())
        records = [r for raw, u in updates for r in translate_update(raw, u, delivery)]
        captured: dict[str, bool] = {}  # one journal look-up per conversation and batch
        for record in records:
            if record.conversation and record.conversation not in captured:
                captured[record.conversation] = await should_capture(
                    self.aio, self.capture_mode, "telegram", self.bot_id, record.conversation
                )
        return [r for r in records if _wanted(r, captured)]

    async def capture_updates(self, updates: Sequence[RawUpdate], source: Source) -> int:
        """Journal ``updates`` durably, then run handlers; returns the number of records.

        A batch is cut after each update that runs handlers, so that a command
        applies to the updates after it (``/archive_on`` then the messages).
        """
        stored = 0
        segment: list[RawUpdate] = []
        for raw, update in updates:
            segment.append((raw, update))
            if needs_handlers(update):
                stored += await self._store(segment, source)
                segment = []
                await self._handle(raw, update, source)
        if segment:
            stored += await self._store(segment, source)
        return stored

    async def _store(self, updates: Sequence[RawUpdate], source: Source) -> int:
        records = await self.translate(updates, source)
        if any(r.kind is Kind.DELETE for r in records):
            records = await asyncio.to_thread(self._tie_deletions, records)
        fetches = file_fetches(records, [u for _, u in updates], self.clock.now())
        await capture(self.journal, records, fetches)
        return len(records)

    def _tie_deletions(self, records: list[Record]) -> list[Record]:
        """A business deletion carries only ids: add the text we captured, if any (blocking)."""
        tied = []
        for record in records:
            if record.kind is Kind.DELETE and "deletes" in record.details:
                original = self.journal.get(str(record.details["deletes"]))
                details = dict(record.details, original_captured=original is not None)
                text = original.text if original is not None else None
                record = replace(record, previous_text=text, details=details)
            tied.append(record)
        return tied

    async def _handle(self, raw: bytes, update: dict[str, Any], source: Source) -> None:
        failures: list[JournalError] = []
        tokens = (current_raw.set(raw), current_source.set(source), _failures.set(failures))
        try:
            parsed = Update.de_json(update, self.application.bot)
        except (TypeError, ValueError, KeyError) as exc:  # journaled raw; PTB cannot read it
            log.warning("telegram.update_not_parsed", error=type(exc).__name__)
            parsed = None
        try:
            if parsed is not None:
                await self.application.process_update(parsed)
        finally:
            current_raw.reset(tokens[0])
            current_source.reset(tokens[1])
            _failures.reset(tokens[2])
        if failures:  # an admin record could not be made durable: do not acknowledge
            raise failures[0]

    async def _on_handler_error(self, update: object, context: Any) -> None:
        error = context.error
        if isinstance(error, JournalError):
            _failures.get([]).append(error)
        else:
            # the type only: exception messages may quote message content
            log.error("telegram.handler_failed", error=type(error).__name__)
