"""The Telegram server plugin: the bot's webhook route or polling loop, and its downloader."""

from __future__ import annotations

from archive.journal import Journal
from bots.telegram.runtime import TelegramRuntime
from bots.telegram.service import TelegramService
from chatkeeper.server import Plugin
from chatkeeper.settings import Settings


def telegram_plugin(settings: Settings, journal: Journal) -> Plugin:
    """Build the plugin; fails closed (ConfigError) on unsafe Telegram settings."""
    runtime = TelegramRuntime(
        settings.telegram,
        journal,
        capture_mode=settings.capture.mode,
        configured_admins=settings.capture.admin_user_ids,
        home=settings.home,
    )
    service = TelegramService(runtime)
    return Plugin(
        name="telegram",
        routes=service.routes(),
        downloader=service.downloader(),
        start=service.start,
        stop=service.stop,
    )
