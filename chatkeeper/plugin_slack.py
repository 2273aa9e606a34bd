"""The Slack server plugin: the Events API and slash command routes (HTTP mode) or a Socket
Mode connection, the reconciliation job, and the Slack file downloader."""

from __future__ import annotations

from archive.journal import Journal
from bots.slack.app import SlackBot
from chatkeeper.server import Plugin
from chatkeeper.settings import Settings


def slack_plugin(settings: Settings, journal: Journal) -> Plugin:
    """Build the plugin; fails closed (ConfigError) without a signing secret in HTTP mode."""
    bot = SlackBot(
        settings.slack,
        journal,
        capture_mode=settings.capture.mode,
        admin_user_ids=settings.capture.admin_user_ids,
        stream=settings.archive.stream,
    )
    return Plugin(
        name="slack",
        routes=[] if settings.slack.mode == "socket" else bot.routes(),
        downloader=bot.downloader(),
        start=bot.start,
        stop=bot.stop,
    )
