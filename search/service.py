"""Search as the CLI (and later the console) calls it: parse, run, add snippets."""

from __future__ import annotations

from dataclasses import dataclass

from search.port import Hit, SearchIndex
from search.query import Node, parse
from search.snippet import snippet


@dataclass(frozen=True, slots=True)
class Result:
    """One hit with its highlighted excerpt."""

    hit: Hit
    snippet: str


def search(index: SearchIndex, query: str, limit: int | None = 20) -> tuple[Node, list[Result]]:
    """Parse ``query`` (QueryError, exit 2, when it is malformed) and run it on ``index``."""
    node = parse(query)
    hits = index.search(node, limit)
    return node, [Result(h, snippet(_shown_text(h), node)) for h in hits]


def _shown_text(hit: Hit) -> str:
    return f"{hit.body} [{', '.join(hit.files.splitlines())}]" if hit.files else hit.body
