"""Compile a query AST into SQL for one backend (a ``Dialect``).

The planner finds the largest part of the query that the full-text engine
can answer by itself (words, phrases, prefixes, NEAR, with AND/OR and
``x NOT y``) and makes it the *driver*: the backend walks its full-text
matches newest first and checks the rest (filters, and text under OR with a
filter) on each. A query with no such part scans documents newest first.
Values are always bound parameters; SQL text comes only from this module and
the dialect's constants.
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass
from datetime import datetime
from typing import Protocol

from search.query import And, Filter, Near, Node, Not, Or, Text


class Dialect(Protocol):
    placeholder: str  # "?" (sqlite3) or "%s" (psycopg)
    has_file_sql: str  # the predicate for has:file
    match_sql: str  # one document against a full-text query parameter

    def render(self, node: Node) -> str:
        """The backend's full-text query text for a text-only subtree."""
        ...

    def time_value(self, moment: datetime) -> object: ...


def is_text(node: Node) -> bool:
    """Whether the full-text engine alone can answer ``node`` (no filters, no lone NOT)."""
    if isinstance(node, Text | Near):
        return True
    if isinstance(node, Or):
        return all(is_text(item) for item in node.items)
    if isinstance(node, And):
        positives = [item for item in node.items if not isinstance(item, Not)]
        negatives = [item.item for item in node.items if isinstance(item, Not)]
        return bool(positives) and all(is_text(item) for item in positives + negatives)
    return False


def _text_part(item: Node) -> bool:
    return is_text(item) or (isinstance(item, Not) and is_text(item.item))


def plan(node: Node) -> tuple[Node | None, Node | None]:
    """(driver: the full-text part, rest: what is checked on each of its matches)."""
    if is_text(node):
        return node, None
    if isinstance(node, And):
        text = [item for item in node.items if _text_part(item)]
        rest = [item for item in node.items if not _text_part(item)]
        driver = text[0] if len(text) == 1 else And(tuple(text))
        if text and is_text(driver):
            return driver, (rest[0] if len(rest) == 1 else And(tuple(rest))) if rest else None
    return None, node


@dataclass
class Where:
    """SQL condition text over ``d`` (the documents table) and its parameters."""

    sql: str
    params: list[object]


def where(node: Node, dialect: Dialect) -> Where:
    """A SQL condition equivalent to ``node``."""
    params: list[object] = []
    sql = _where(node, dialect, params)
    return Where(sql, params)


def _where(node: Node, dialect: Dialect, params: list[object]) -> str:
    if is_text(node):
        params.append(dialect.render(node))
        return dialect.match_sql
    if isinstance(node, Filter):
        return _filter(node, dialect, params)
    if isinstance(node, Not):
        return f"NOT ({_where(node.item, dialect, params)})"
    if isinstance(node, Or):
        return "(" + " OR ".join(_where(item, dialect, params) for item in node.items) + ")"
    if isinstance(node, And):
        driver, rest = plan(node)
        parts = []
        if driver is not None:
            parts.append(_where(driver, dialect, params))
            items = () if rest is None else (rest.items if isinstance(rest, And) else (rest,))
        else:
            items = node.items
        parts += [_where(item, dialect, params) for item in items]
        return "(" + " AND ".join(parts) + ")"
    raise AssertionError(f"unknown query node {node!r}")


_COLUMN = {"platform": "d.platform", "kind": "d.kind", "workspace": "d.workspace"}


def _filter(node: Filter, dialect: Dialect, params: list[object]) -> str:
    p = dialect.placeholder
    if node.field in _COLUMN:
        params.append(node.value)
        return f"{_COLUMN[node.field]} = {p}"
    if node.field == "from":
        params += [node.value, node.folded, node.folded]
        return f"(d.actor_id = {p} OR d.actor_name_key = {p} OR d.actor_email_key = {p})"
    if node.field == "in":
        params += [node.value, node.folded]
        return f"(d.conversation = {p} OR d.conversation_key = {p})"
    if node.field == "thread":
        params += [node.value, node.value]
        return f"(d.thread_id = {p} OR d.message_id = {p})"
    if node.field in ("after", "before"):
        assert node.moment is not None
        params.append(dialect.time_value(node.moment))
        return f"d.occurred_at {'>=' if node.field == 'after' else '<'} {p}"
    if node.field == "has":
        return dialect.has_file_sql
    raise AssertionError(f"unknown filter {node.field!r}")


def render_with(
    node: Node,
    text: Callable[[Text], str],
    near: Callable[[Near], str],
    *,
    and_op: str,
    or_op: str,
    and_not: Callable[[str, str], str],
) -> str:
    """Render a text-only subtree with a backend's leaf and operator syntax."""

    def go(item: Node) -> str:
        if isinstance(item, Text):
            return text(item)
        if isinstance(item, Near):
            return near(item)
        if isinstance(item, Or):
            return "(" + f" {or_op} ".join(go(i) for i in item.items) + ")"
        if isinstance(item, And):
            positives = [go(i) for i in item.items if not isinstance(i, Not)]
            result = "(" + f" {and_op} ".join(positives) + ")"
            for negative in (i.item for i in item.items if isinstance(i, Not)):
                result = and_not(result, go(negative))
            return result
        raise AssertionError(f"not a text query node: {item!r}")

    return go(node)
