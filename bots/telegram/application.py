"""Builds the python-telegram-bot Application the bot runs on, and starts it the safe way.

PTB's own Updater confirms updates before handlers run, so the Application is
built without one (``updater(None)``): updates arrive through our webhook
endpoint or our polling loop, are journaled, and only then reach the handlers.
At start we ask for every update type (``allowed_updates`` is sticky) and never
drop pending updates. A start-up failure is translated here: a rejected token is
a ConfigError, any other Bot API failure a PlatformError naming the step; the
token never appears in either (python-telegram-bot puts it in InvalidToken's
message).
"""

from __future__ import annotations

from collections.abc import Collection
from pathlib import Path
from typing import Any

import structlog
from aiohttp import web
from telegram import Update
from telegram.error import InvalidToken, TelegramError
from telegram.ext import Application, ApplicationBuilder
from telegram.request import HTTPXRequest

from archive.clock import Clock, SystemClock
from archive.errors import ConfigError, PlatformError
from archive.journal import Journal
from archive.journal.aio import AsyncJournal
from bots.telegram.admin import BOT_COMMANDS, AdminPolicy, command_handlers
from bots.telegram.capture import TelegramCapture
from bots.telegram.files import TelegramDownloader
from bots.telegram.settings import TelegramSettings
from bots.telegram.visibility import BOOK_NAME, VisibilityBook, VisibilityMonitor
from bots.telegram.webhook import webhook_routes

log = structlog.get_logger("chatkeeper.telegram")
AnyApplication = Application[Any, Any, Any, Any, Any, Any]


class RawRecordingRequest(HTTPXRequest):
    """The getUpdates transport: keeps the exact bytes of the last response."""

    last_payload: bytes = b""

    def parse_json_payload(self, payload: bytes) -> dict[str, Any]:  # type: ignore[override]
        self.last_payload = payload
        return HTTPXRequest.parse_json_payload(payload)


class TelegramRuntime:
    """One bot: its Application, the capture path, and start/stop against the Bot API."""

    def __init__(
        self,
        settings: TelegramSettings,
        journal: Journal,
        *,
        capture_mode: str = "opt_in",
        configured_admins: Collection[str] = (),
        clock: Clock | None = None,
        home: Path | None = None,
    ) -> None:
        settings.validate()
        if not settings.token:
            raise ConfigError("telegram.token is required")
        self.settings = settings
        self.journal = journal
        self.clock = clock or SystemClock()
        self.updates_request = RawRecordingRequest(connection_pool_size=1)
        self.application: AnyApplication = (
            ApplicationBuilder()
            .token(settings.token)
            .base_url(settings.base_url)
            .base_file_url(settings.base_file_url)
            .local_mode(settings.local_mode)
            .get_updates_request(self.updates_request)
            .updater(None)
            .build()
        )
        self.capture = TelegramCapture(
            journal,
            self.application,
            bot_id=settings.bot_id,
            capture_mode=capture_mode,
            clock=self.clock,
        )
        self.visibility = VisibilityMonitor(
            VisibilityBook(home / BOOK_NAME if home is not None else None), self.clock
        )
        self.policy = AdminPolicy(
            journal=journal,
            clock=self.clock,
            bot_id=settings.bot_id,
            configured_admins=frozenset(configured_admins),
            visibility_note=lambda chat_id: self.visibility.note(self.application.bot, chat_id),
        )
        self.application.add_handlers(command_handlers(self.policy))
        self.application.add_handler(self.visibility.handler())
        self._step = ""  # the Bot API call start() is making, for its error message

    @property
    def bot_id(self) -> str:
        return self.settings.bot_id

    async def start(self) -> None:
        """getMe, register the commands, then subscribe by webhook or clear it for polling."""
        self._step = "getMe"
        try:
            await self._start()
        except InvalidToken as exc:
            raise ConfigError("telegram.token was rejected by the Bot API (Unauthorized)") from exc
        except TelegramError as exc:
            message = exc.message.replace(self.settings.token, "[redacted]")
            raise PlatformError(
                f"Telegram Bot API {self._step} failed at start-up: {type(exc).__name__}: {message}"
            ) from exc

    async def _start(self) -> None:
        await self.application.initialize()
        bot = self.application.bot
        expected = self.settings.bot_username.lstrip("@").lower()
        if expected and bot.username.lower() != expected:
            raise ConfigError(
                f"telegram.bot_username is @{expected} but the token is @{bot.username}"
            )
        try:
            await bot.set_my_commands(list(BOT_COMMANDS))
        except TelegramError as exc:
            log.warning("telegram.set_commands_failed", error=type(exc).__name__)
        self._step = "setWebhook" if self.settings.mode == "webhook" else "deleteWebhook"
        if self.settings.mode == "webhook":
            await bot.set_webhook(
                url=self.settings.webhook_url,
                secret_token=self.settings.webhook_secret,
                allowed_updates=Update.ALL_TYPES,
                max_connections=self.settings.webhook_max_connections,
                drop_pending_updates=False,
            )
        else:
            await bot.delete_webhook(drop_pending_updates=False)
        self._step = "getChatMember"
        await self.check_visibility()
        log.info("telegram.started", bot_id=self.bot_id, mode=self.settings.mode)

    async def check_visibility(self) -> None:
        """Check every monitored group; warn in those the bot cannot fully see."""
        for entry in await AsyncJournal(self.journal).monitoring("telegram"):
            if (
                entry.enabled
                and entry.workspace == self.bot_id
                and entry.conversation.startswith("-")
            ):
                await self.visibility.check(
                    self.application.bot, int(entry.conversation), title=entry.conversation_name
                )

    def downloader(self) -> TelegramDownloader:
        """The media downloader for the shared attachment worker (``{"telegram": ...}``)."""
        return TelegramDownloader(self.application.bot, local_mode=self.settings.local_mode)

    def webhook_routes(self) -> list[web.RouteDef]:
        """The webhook endpoint to mount on chatkeeper's HTTP server (webhook mode)."""
        return webhook_routes(
            self.capture, self.settings.webhook_secret, self.settings.webhook_path
        )

    async def stop(self) -> None:
        await self.application.shutdown()
        await (
            self.application.bot.shutdown()
        )  # its HTTP clients, if start failed after opening them
