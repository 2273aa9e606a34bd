"""How deeply a JSON text nests, measured on the bytes before anything parses them.

Python's ``json`` recurses once per level and raises ``RecursionError`` on a
few thousand nested brackets; a body of a depth just under that limit parses,
and then trips whatever walks it next. Both bots refuse a verified body that
nests deeper than :data:`MAX_JSON_DEPTH` (Slack and Telegram payloads nest a
dozen levels at most) before handing it to a parser, and keep it raw.
"""

from __future__ import annotations

import re

MAX_JSON_DEPTH = 64
_STRING = re.compile(rb'"(?:[^"\\]|\\.)*"', re.DOTALL)
_BRACKET = re.compile(rb"[\[\]{}]")
_OPENERS = frozenset(b"[{")


def nests_deeper_than(text: bytes, limit: int = MAX_JSON_DEPTH) -> bool:
    """Whether ``text`` has more than ``limit`` brackets open at once (strings excluded).

    Linear and without recursion; brackets inside string literals do not count.
    Malformed text is measured as far as it goes (an unterminated string counts
    its brackets, which only errs towards refusing what no parser would accept).
    """
    if text.count(b"[") + text.count(b"{") <= limit:
        return False
    depth = 0
    for match in _BRACKET.finditer(_STRING.sub(b'""', text)):
        if match.group()[0] in _OPENERS:
            depth += 1
            if depth > limit:
                return True
        else:
            depth -= 1
    return False
