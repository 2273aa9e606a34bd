"""Builds the server plugins of the configured platforms (none until a bot is configured)."""

from __future__ import annotations

from archive.journal import Journal
from chatkeeper.server import Plugin
from chatkeeper.settings import Settings


async def build_plugins(settings: Settings, journal: Journal) -> list[Plugin]:
    """One Plugin per configured platform."""
    plugins: list[Plugin] = []
    if settings.slack.enabled:
        plugins.append(slack_plugin(settings, journal))
    return plugins


def slack_plugin(settings: Settings, journal: Journal) -> Plugin:
    """Slack: HTTP endpoints in HTTP mode, a Socket Mode connection otherwise."""
    from bots.slack.app import SlackBot

    bot = SlackBot(
        settings.slack,
        journal,
        capture_mode=settings.capture.mode,
        admin_user_ids=settings.capture.admin_user_ids,
        stream=settings.archive.stream,
    )
    socket = settings.slack.mode == "socket"

    async def start() -> None:
        if socket:
            await bot.start_socket_mode()

    return Plugin(
        name="slack",
        routes=[] if socket else bot.routes(),
        downloader=bot.downloader(),
        start=start,
        stop=bot.stop,
    )
