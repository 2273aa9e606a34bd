"""The read API of the review queue, for ``chatkeeper review`` and the officer console.

A console queue page calls ``list_items(queue, ItemFilter(...), now)`` for the table and
``get_item(queue, item_id)`` for one item (hits with positions, ``highlight_spans`` to mark
them, context before and after, the decision history). Decisions go through
``supervision.decisions.record_decisions``. Every function returns plain dicts and lists
(JSON-ready) and never logs message text.
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime, timedelta
from typing import Any

from archive.codec import format_time
from archive.errors import ConfigError
from supervision.decisions import NEEDS_FOLLOW_UP
from supervision.queue import QueueStore, item_from_row

STATUSES = ("open", "decided", "all")
_LATEST = "items.decision"  # kept up to date by QueueStore.add_decisions


@dataclass(frozen=True)
class ItemFilter:
    policy: str | None = None
    conversation: str | None = None
    participant: str | None = None  # actor id or display name
    older_than: timedelta | None = None  # queued at least this long ago
    status: str = "open"  # open (no decision, or needs_follow_up) | decided | all
    assignee: str | None = None  # "" for unassigned
    reason: str | None = None  # flagged | always | sampled
    rule: str | None = None  # a hit of this lexicon rule id
    limit: int = 200
    offset: int = 0


def _where(f: ItemFilter, now: datetime) -> tuple[str, list[Any]]:
    if f.status not in STATUSES:
        raise ConfigError(f"status {f.status!r} is not one of {', '.join(STATUSES)}")
    clauses, params = [], []
    for column, value in (
        ("policy", f.policy),
        ("conversation", f.conversation),
        ("reason", f.reason),
    ):
        if value is not None:
            clauses.append(f"{column} = ?")
            params.append(value)
    if f.participant is not None:
        clauses.append("(actor_id = ? OR actor_name = ?)")
        params += [f.participant, f.participant]
    if f.assignee is not None:
        clauses.append("COALESCE(assignee, '') = ?")
        params.append(f.assignee)
    if f.older_than is not None:
        clauses.append("queued_at <= ?")
        params.append(format_time(now - f.older_than))
    if f.rule is not None:
        clauses.append("EXISTS (SELECT 1 FROM json_each(items.hits) WHERE value->>'rule' = ?)")
        params.append(f.rule)
    if f.status == "open":
        clauses.append(f"COALESCE({_LATEST}, '{NEEDS_FOLLOW_UP}') = '{NEEDS_FOLLOW_UP}'")
    elif f.status == "decided":
        clauses.append(f"COALESCE({_LATEST}, '{NEEDS_FOLLOW_UP}') != '{NEEDS_FOLLOW_UP}'")
    return (" WHERE " + " AND ".join(clauses)) if clauses else "", params


def list_items(queue: QueueStore, f: ItemFilter, now: datetime) -> list[dict[str, Any]]:
    """Items matching ``f``, oldest first, each with its latest ``decision`` (or None)."""
    where, params = _where(f, now)
    rows = queue.query(
        f"SELECT * FROM items{where} "  # noqa: S608
        "ORDER BY queued_at, occurred_at, id LIMIT ? OFFSET ?",
        [*params, f.limit, f.offset],
    )
    return [item_from_row(r) for r in rows]


def count_items(queue: QueueStore, f: ItemFilter, now: datetime) -> int:
    where, params = _where(f, now)
    return int(queue.query(f"SELECT count(*) FROM items{where}", params)[0][0])  # noqa: S608


def get_item(queue: QueueStore, item_id: str) -> dict[str, Any]:
    """One item with its decision history (oldest first); ConfigError if unknown."""
    rows = queue.query("SELECT * FROM items WHERE id = ?", (item_id,))
    if not rows:
        raise ConfigError(f"no review item {item_id!r} (see chatkeeper review list)")
    item = item_from_row(rows[0])
    item["decisions"] = [
        dict(r)
        for r in queue.query(
            "SELECT * FROM decisions WHERE item = ? ORDER BY decided_at, id", (item_id,)
        )
    ]
    return item


def highlight_spans(text: str, hits: list[dict[str, Any]]) -> list[tuple[str, bool]]:
    """``text`` cut into (piece, is_hit) in order; overlapping hits merge."""
    spans: list[list[int]] = []
    for hit in sorted(hits, key=lambda h: (h["start"], h["end"])):
        if spans and hit["start"] <= spans[-1][1]:
            spans[-1][1] = max(spans[-1][1], hit["end"])
        else:
            spans.append([hit["start"], hit["end"]])
    pieces, at = [], 0
    for start, end in spans:
        if start > at:
            pieces.append((text[at:start], False))
        pieces.append((text[start:end], True))
        at = end
    if at < len(text):
        pieces.append((text[at:], False))
    return pieces
