"""A short excerpt of a hit's text with the matching words marked ``**like this**``."""

from __future__ import annotations

from search.query import Near, Node, Text, positive_terms
from search.text import token_spans

MARK = "**"
_CONTEXT = 8  # tokens shown before the first match
_WIDTH = 24  # tokens shown in all


def _wanted(query: Node) -> tuple[set[str], tuple[str, ...]]:
    exact: set[str] = set()
    prefixes: list[str] = []
    for leaf in positive_terms(query):
        if isinstance(leaf, Near):
            exact.update((leaf.left, leaf.right))
        elif isinstance(leaf, Text):
            exact.update(leaf.tokens[:-1] if leaf.prefix else leaf.tokens)
            if leaf.prefix:
                prefixes.append(leaf.tokens[-1])
    return exact, tuple(prefixes)


def snippet(text: str, query: Node) -> str:
    """Up to about two dozen words of ``text`` around the first match, matches marked."""
    exact, prefixes = _wanted(query)
    spans = list(token_spans(text))
    if not spans:
        return ""
    matched = [i for i, (tok, _, _) in enumerate(spans) if tok in exact or tok.startswith(prefixes)]
    first = max(0, (matched[0] if matched else 0) - _CONTEXT)
    last = min(len(spans), first + _WIDTH)
    marked = set(matched)
    out: list[str] = ["…" if first > 0 else ""]
    cursor = spans[first][1]
    for i in range(first, last):
        _, start, end = spans[i]
        out.append(text[cursor:start])
        word = text[start:end]
        out.append(f"{MARK}{word}{MARK}" if i in marked else word)
        cursor = end
    out.append("…" if last < len(spans) else text[cursor:])
    return " ".join("".join(out).replace(MARK + MARK, "").split())
