"""Case and accent folding of message text, with a map back to the original positions.

Lexicons match on folded text (lower case, accents removed from Latin, Greek and Cyrillic
letters, ``ß`` as ``ss``, runs of white space as one space), and a hit is reported at its
position in the original text so that it can be highlighted. Text that is plain ASCII
(most business chat) takes a fast path: ``str.lower`` keeps every position.
"""

from __future__ import annotations

import unicodedata
from dataclasses import dataclass
from functools import lru_cache

_MARKS_BELOW = 0x0530  # Latin, Greek and Cyrillic: accents are folded; other scripts kept


@dataclass(frozen=True, slots=True)
class Folded:
    """Folded text; ``starts[i]`` is the original index of folded character ``i``."""

    text: str
    original: str
    starts: tuple[int, ...] | None  # None: identity (ASCII fast path)

    def span(self, start: int, end: int) -> tuple[int, int]:
        """The original ``[start, end)`` of folded ``[start, end)``."""
        if self.starts is None:
            return start, end
        if start >= len(self.starts) or end <= start:
            return len(self.original), len(self.original)
        return self.starts[start], self.starts[end - 1] + 1


@lru_cache(maxsize=65_536)
def _fold_char(char: str) -> str:
    lowered = char.casefold()
    out = []
    for c in lowered:
        decomposed = unicodedata.normalize("NFKD", c)
        base = decomposed[0] if decomposed else c
        if ord(base) < _MARKS_BELOW:
            out.append("".join(d for d in decomposed if not unicodedata.combining(d)))
        else:
            out.append(unicodedata.normalize("NFC", c))
    return "".join(out)


def fold_term(text: str) -> str:
    """Fold a lexicon term the way message text is folded."""
    return fold(text).text


def fold(text: str) -> Folded:
    """Fold ``text`` once, for every lexicon that screens it."""
    if text.isascii():
        lowered = text.lower()
        if "  " not in lowered and "\n" not in lowered and "\t" not in lowered:
            return Folded(lowered, text, None)
    chars: list[str] = []
    starts: list[int] = []
    space = False
    for index, char in enumerate(text):
        if char.isspace():
            if not space:
                chars.append(" ")
                starts.append(index)
            space = True
            continue
        space = False
        folded = char.lower() if char.isascii() else _fold_char(char)
        for piece in folded:
            chars.append(piece)
            starts.append(index)
    return Folded("".join(chars), text, tuple(starts))
