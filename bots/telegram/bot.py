"""The Telegram platform object (a :class:`bots.bot.Bot`): what ``chatkeeper serve`` runs.

Webhook mode: mount :meth:`TelegramBot.routes` on the HTTP server, start
the server, then :meth:`start` (it calls ``setWebhook``, so the endpoint must
already answer). Polling mode: :meth:`start` runs the own getUpdates loop in a
task. :meth:`stop` ends the loop (cancelling a long poll after a grace period,
which is safe: unconfirmed updates are redelivered and stored once) and shuts
the bot down.
"""

from __future__ import annotations

import asyncio
import contextlib

from aiohttp import web

from bots.telegram.application import TelegramRuntime
from bots.telegram.files import TelegramDownloader
from bots.telegram.polling import PollingLoop

_GRACE_SECONDS = 2.0


class TelegramBot:
    """One Telegram bot: its runtime (Application, capture path) and its polling loop.

    Build it as ``TelegramBot(TelegramRuntime(settings, journal, ...))``; the runtime
    fails closed (ConfigError) on unsafe Telegram settings.
    """

    name = "telegram"

    def __init__(self, runtime: TelegramRuntime) -> None:
        self.runtime = runtime
        self._stop = asyncio.Event()
        self._task: asyncio.Task[None] | None = None

    @property
    def mode(self) -> str:
        return self.runtime.settings.mode

    def routes(self) -> list[web.RouteDef]:
        """The webhook endpoint in webhook mode; nothing in polling mode."""
        return self.runtime.webhook_routes() if self.mode == "webhook" else []

    def downloader(self) -> TelegramDownloader:
        """Register as ``{"telegram": bot.downloader()}`` with the attachment worker."""
        return self.runtime.downloader()

    async def start(self) -> None:
        await self.runtime.start()
        if self.mode == "polling":
            self._task = asyncio.create_task(PollingLoop(self.runtime).run(self._stop))

    async def stop(self) -> None:
        self._stop.set()
        if self._task is not None:
            try:
                await asyncio.wait_for(asyncio.shield(self._task), _GRACE_SECONDS)
            except TimeoutError:
                self._task.cancel()
                with contextlib.suppress(asyncio.CancelledError):
                    await self._task
        await self.runtime.stop()

    async def run(self, stop: asyncio.Event) -> None:
        """start(), wait for ``stop``, stop()."""
        await self.start()
        try:
            await stop.wait()
        finally:
            await self.stop()
