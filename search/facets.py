"""Filters as index terms, for the SQLite adapter.

``from:``, ``in:``, ``kind:`` and ``has:file`` are indexed as *facet tokens*
in a second FTS5 column, so a query like ``budget from:dana`` is one FTS5
intersection of two doclists instead of walking every *budget* match and
checking its sender (which costs the whole archive when the sender is rare).
A facet token is ``f``, a letter for the field and the value's UTF-8 bytes in
hex: letters and digits only, unique per field and value, and in its own
column, so no text query (not even ``f*``) can match one. Time filters become a seq range instead (seqs follow
capture order), and are still checked exactly on each row.
"""

from __future__ import annotations

from functools import lru_cache

from search.document import SearchDocument
from search.query import And, Filter, Node

FACET_FIELDS = frozenset({"from", "in", "kind", "has"})
_CODES = {
    "kind": "k",
    "actor_id": "a",
    "actor_name": "n",
    "actor_email": "e",
    "conversation": "c",
    "conversation_name": "m",
    "has": "h",
}


def facet(field: str, value: str) -> str:
    """The facet token for ``field`` = ``value``."""
    return "f" + _CODES[field] + value.encode("utf-8").hex()


def document_facets(doc: SearchDocument) -> str:
    """The facet tokens of a document, joined by spaces."""
    return _facets(
        doc.kind,
        doc.actor_id or "",
        doc.actor_name_key,
        doc.actor_email_key,
        doc.conversation,
        doc.conversation_key,
        doc.has_file,
    )


@lru_cache(maxsize=65536)  # senders and conversations repeat: most documents hit the cache
def _facets(
    kind: str, actor: str, name: str, email: str, conversation: str, title: str, has_file: bool
) -> str:
    values = [
        ("kind", kind),
        ("actor_id", actor),
        ("actor_name", name),
        ("actor_email", email),
        ("conversation", conversation),
        ("conversation_name", title),
    ]
    tokens = [facet(f, v) for f, v in values if v]
    if has_file:
        tokens.append(facet("has", "file"))
    return " ".join(dict.fromkeys(tokens))


def facet_match(node: Filter) -> str:
    """An FTS5 expression over the ``facets`` column equivalent to the filter."""
    if node.field == "from":
        tokens = [
            facet("actor_id", node.value),
            facet("actor_name", node.folded),
            facet("actor_email", node.folded),
        ]
    elif node.field == "in":
        tokens = [facet("conversation", node.value), facet("conversation_name", node.folded)]
    elif node.field == "kind":
        tokens = [facet("kind", node.value)]
    else:
        tokens = [facet("has", "file")]
    return "facets : (" + " OR ".join(f'"{t}"' for t in dict.fromkeys(tokens)) + ")"


def split_rest(rest: Node | None) -> tuple[list[Filter], list[Filter], list[Node]]:
    """The top-level parts of ``rest``: (facet filters, time filters, everything else)."""
    items: tuple[Node, ...] = (
        () if rest is None else rest.items if isinstance(rest, And) else (rest,)
    )
    facets = [i for i in items if isinstance(i, Filter) and i.field in FACET_FIELDS]
    times = [i for i in items if isinstance(i, Filter) and i.field in ("after", "before")]
    others = [i for i in items if not (isinstance(i, Filter) and i.field in FACET_FIELDS)]
    return facets, times, others
