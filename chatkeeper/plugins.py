"""Builds the server plugins of the configured platforms (none until a bot is configured)."""

from __future__ import annotations

from archive.journal import Journal
from chatkeeper.server import Plugin
from chatkeeper.settings import Settings


async def build_plugins(settings: Settings, journal: Journal) -> list[Plugin]:
    """One Plugin per configured platform."""
    del settings, journal
    return []
