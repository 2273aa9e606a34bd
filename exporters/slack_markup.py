"""Slack's message markup made readable, for the formats people read (HTML, EML, RSMF text).

Slack sends ``text`` with its own markup: ``&lt;``, ``&gt;`` and ``&amp;``
entities, ``<@U…>`` mentions, ``<#C…|name>`` channel links, ``<!here>`` and
``<!subteam^…|@team>`` broadcasts, ``<!date^…|fallback>`` dates and
``<url|label>`` links. ``readable`` turns them into what Slack shows: names
(from the export's own records), ``#channel``, ``@here``, ``label (url)``.
The Slack export format and JSONL keep the markup as archived.
"""

from __future__ import annotations

import re
from collections.abc import Callable

_TOKEN = re.compile(r"<([^<>]*)>")
_URL = re.compile(r"^[A-Za-z][A-Za-z0-9+.-]*:")
Lookup = Callable[[str], str | None]


def _none(_: str) -> str | None:
    return None


def _entities(text: str) -> str:
    return text.replace("&lt;", "<").replace("&gt;", ">").replace("&amp;", "&")


def readable(text: str, user_name: Lookup = _none, channel_name: Lookup = _none) -> str:
    """``text`` with Slack's markup decoded (entities last, so ``&lt;@U1&gt;`` stays text)."""
    if "<" not in text and "&" not in text:
        return text  # no token and no entity: most messages
    out: list[str] = []
    position = 0
    for match in _TOKEN.finditer(text):
        out.append(_entities(text[position : match.start()]))
        out.append(_token(match.group(1), user_name, channel_name))
        position = match.end()
    out.append(_entities(text[position:]))
    return "".join(out)


def _token(body: str, user_name: Lookup, channel_name: Lookup) -> str:
    target, _, label = body.partition("|")
    label = _entities(label)
    if target.startswith("@"):
        ident = target[1:]
        return "@" + (label or user_name(ident) or ident)
    if target.startswith("#"):
        ident = target[1:]
        return "#" + (label or channel_name(ident) or ident)
    if target.startswith("!"):
        command = target[1:]
        if label:
            return label
        if command in ("here", "channel", "everyone"):
            return "@" + command
        return "@" + command.split("^", 1)[0]
    url = _entities(target)
    if not _URL.match(url):
        return f"<{_entities(body)}>"  # not Slack markup: keep the text as it was
    if label and label != url and label != url.removeprefix("mailto:"):
        return f"{label} ({url})"
    return label or url.removeprefix("mailto:")
