"""The ``Bot`` Protocol: what one platform adapter gives the server that mounts it.

``chatkeeper serve`` builds one ``Bot`` per configured platform
(:class:`bots.slack.bot.SlackBot`, :class:`bots.telegram.bot.TelegramBot`),
mounts its routes before the HTTP server starts, hands its downloader to the
shared attachment worker, then awaits ``start()``; on shutdown it awaits
``stop()``. Each platform's data path reads the same way, file by file:
``bot.py`` (the platform object) → ``capture.py`` (delivery → records) →
``translate.py`` (pure payload → Record) → :func:`archive.capture.capture`.
"""

from __future__ import annotations

from typing import Protocol

from aiohttp import web

from archive.attachments import Downloader


class Bot(Protocol):
    """One platform adapter as the server sees it."""

    @property
    def name(self) -> str:
        """The platform name (``slack``, ``telegram``); also the attachment worker's key."""
        ...

    def routes(self) -> list[web.RouteDef]:
        """The HTTP endpoints to mount (webhooks); empty in Socket Mode and polling mode."""
        ...

    def downloader(self) -> Downloader:
        """The platform's file downloader for the shared attachment worker."""
        ...

    async def start(self) -> None:
        """Connect to the platform (check tokens, subscribe, start loops); fails closed."""
        ...

    async def stop(self) -> None:
        """Stop loops and release connections; safe after a failed ``start``."""
        ...
