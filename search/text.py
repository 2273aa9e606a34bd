"""What a word is: normalization and tokenization shared by indexing, queries and snippets.

Both backends index the tokens produced here (SQLite FTS5 receives them joined
by spaces, PostgreSQL as a tsvector literal), so a word means the same thing
everywhere:

- case folded (``str.casefold``), compatibility-decomposed (NFKD), combining
  marks removed (accents, Hebrew niqqud, Arabic harakat; the Japanese voicing
  marks are kept) and recomposed (NFC), Arabic tatweel dropped;
- a token is a run of letters and digits (underscore and punctuation split);
- scripts written without spaces (Han, Hiragana, Katakana, Hangul, Thai) give
  one token per character, and a query word in them becomes a phrase of its
  characters: character unigrams searched as adjacent sequences, so ``会议``
  finds ``明天的会议`` and not ``会`` ... ``议`` apart.
"""

from __future__ import annotations

import re
import unicodedata
from collections.abc import Iterator

# Scripts without spaces between words: one token per character.
_SPLIT = (
    "\u0e00-\u0e7f"  # Thai
    "\u1100-\u11ff\u3130-\u318f\uac00-\ud7af"  # Hangul jamo, compatibility jamo, syllables
    "\u3040-\u30ff\u31f0-\u31ff\uff66-\uff9f"  # Hiragana, Katakana (+ extensions, half-width)
    "\u3400-\u4dbf\u4e00-\u9fff\uf900-\ufaff"  # CJK ideographs (ext A, unified, compatibility)
    "\U00020000-\U0003134f"  # CJK ideographs, extensions B..G
)
_TOKEN = re.compile(f"[{_SPLIT}]|[^\\W_{_SPLIT}]+")
_WORD = re.compile(r"[^\W_]+")
_HAS_SPLIT = re.compile(f"[{_SPLIT}]")
_ALL_SPLIT = re.compile(f"[{_SPLIT}]+")
_KEEP_MARKS = "\u3099\u309a"  # kana voicing marks: ガ is not カ


def _mark_class(low: int, high: int) -> re.Pattern[str]:
    """A regex class of the combining marks in [low, high) (kana voicing kept), as ranges."""
    marks = [c for c in range(low, high) if unicodedata.combining(chr(c))]
    marks = sorted(
        {c for c in marks if chr(c) not in _KEEP_MARKS} | ({0x640} & {*range(low, high)})
    )
    ranges: list[list[int]] = []
    for c in marks:
        if ranges and ranges[-1][1] == c - 1:
            ranges[-1][1] = c
        else:
            ranges.append([c, c])
    return re.compile(
        "[" + "".join(f"{re.escape(chr(a))}-{re.escape(chr(b))}" for a, b in ranges) + "]"
    )


# One class for the Basic Multilingual Plane (sre matches it with a bitmap, fast) and one for
# the astral planes, applied only to text that has astral characters (a long range list, slow).
_MARKS = _mark_class(0x300, 0x10000)  # and the Arabic tatweel
_ASTRAL = re.compile("[\U00010000-\U0010ffff]")
_ASTRAL_MARKS = _mark_class(0x10000, 0x110000)


def fold(text: str) -> str:
    """Case-fold and strip accents and other combining marks."""
    folded = text.casefold()
    if folded.isascii():
        return folded
    stripped = _MARKS.sub("", unicodedata.normalize("NFKD", folded))
    if _ASTRAL.search(stripped):
        stripped = _ASTRAL_MARKS.sub("", stripped)
    return unicodedata.normalize("NFC", stripped)


def tokens(text: str) -> list[str]:
    """The tokens of ``text``, folded, in order."""
    folded = fold(text)
    if folded.isascii():
        return _WORD.findall(folded)
    out: list[str] = []
    for run in _WORD.findall(folded):
        if run.isascii() or not _HAS_SPLIT.search(run):
            out.append(run)
        elif _ALL_SPLIT.fullmatch(run):
            out.extend(run)
        else:
            out.extend(_TOKEN.findall(run))
    return out


def is_split_script(token: str) -> bool:
    """Whether ``token`` is a character of a script indexed one character per token."""
    return bool(_HAS_SPLIT.match(token))


def token_spans(text: str) -> Iterator[tuple[str, int, int]]:
    """(folded token, start, end) over the original ``text``, for highlighting.

    Each original character is folded on its own and the offsets mapped back,
    so a highlighted span covers the characters the officer typed.
    """
    folded: list[str] = []
    origin: list[int] = []
    for index, char in enumerate(text):
        part = fold(char) if not char.isascii() else char.lower()
        folded.append(part)
        origin.extend([index] * len(part))
    joined = "".join(folded)
    for match in _TOKEN.finditer(joined):
        start = origin[match.start()]
        end = origin[match.end() - 1] + 1
        while end < len(text) and unicodedata.combining(text[end]):
            end += 1
        yield match.group(), start, end
