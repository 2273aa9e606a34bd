"""Builds the server plugins of the configured platforms (none until a bot is configured)."""

from __future__ import annotations

from archive.journal import Journal
from chatkeeper.server import Plugin
from chatkeeper.settings import Settings


async def build_plugins(settings: Settings, journal: Journal) -> list[Plugin]:
    """One Plugin per configured platform."""
    plugins: list[Plugin] = []
    if settings.telegram.token:
        from chatkeeper.plugin_telegram import telegram_plugin

        plugins.append(telegram_plugin(settings, journal))
    return plugins
