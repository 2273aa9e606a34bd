"""What ``chatkeeper serve`` runs for Telegram: one call per mode.

Webhook mode: mount :meth:`TelegramService.routes` on the HTTP server, start
the server, then :meth:`run` (it calls ``setWebhook``, so the endpoint must
already answer). Polling mode: :meth:`run` alone. Either way :meth:`run`
returns after ``stop`` is set, having shut the bot down; cancelling it is
safe too (unconfirmed updates are redelivered and stored once).
"""

from __future__ import annotations

import asyncio

from aiohttp import web

from bots.telegram.media import TelegramDownloader
from bots.telegram.polling import PollingLoop
from bots.telegram.runtime import TelegramRuntime


class TelegramService:
    def __init__(self, runtime: TelegramRuntime) -> None:
        self.runtime = runtime

    @property
    def mode(self) -> str:
        return self.runtime.settings.mode

    def routes(self) -> list[web.RouteDef]:
        """The webhook endpoint in webhook mode; nothing in polling mode."""
        return self.runtime.webhook_routes() if self.mode == "webhook" else []

    def downloader(self) -> TelegramDownloader:
        """Register as ``{"telegram": service.downloader()}`` with the attachment worker."""
        return self.runtime.downloader()

    async def run(self, stop: asyncio.Event) -> None:
        await self.runtime.start()
        try:
            if self.mode == "polling":
                await PollingLoop(self.runtime).run(stop)
            else:
                await stop.wait()
        finally:
            await self.runtime.stop()
