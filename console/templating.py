"""Jinja filters of the console's templates (all output stays autoescaped)."""

from __future__ import annotations

from datetime import UTC, datetime
from urllib.parse import quote

import jinja2
from markupsafe import Markup, escape

from archive.model import Actor
from exporters.fold import Message

MARK = "**"


def when(moment: datetime | None) -> str:
    if moment is None:
        return ""
    return moment.astimezone(UTC).strftime("%Y-%m-%d %H:%M:%S UTC")


def who(actor: Actor | None) -> str:
    if actor is None:
        return "unknown"
    if actor.name and actor.email:
        return f"{actor.name} <{actor.email}>"
    return actor.name or actor.id


def highlight(snippet: str) -> Markup:
    """A search snippet with ``**word**`` marks as <mark>; every piece escaped first."""
    pieces = snippet.split(MARK)
    out = []
    for index, piece in enumerate(pieces):
        text = escape(piece)
        out.append(Markup("<mark>{}</mark>").format(text) if index % 2 else text)
    return Markup("").join(out)


def conversation_url(platform: str, workspace: str, conversation: str) -> str:
    return "/c/" + "/".join(quote(part, safe="") for part in (platform, workspace, conversation))


def size(value: int | None) -> str:
    if value is None:
        return "?"
    for unit in ("B", "KB", "MB", "GB"):
        if value < 1024 or unit == "GB":
            return f"{value:.0f} {unit}" if unit == "B" else f"{value:.1f} {unit}"
        value = value / 1024  # type: ignore[assignment]
    return f"{value} B"


def is_message(item: object) -> bool:
    """A folded message (``exporters.fold.Message``), not an event (which may carry an id too)."""
    return isinstance(item, Message)


def install_filters(env: jinja2.Environment) -> None:
    env.filters.update(when=when, who=who, highlight=highlight, size=size)
    env.tests.update(message=is_message)
    env.globals.update(conversation_url=conversation_url)
