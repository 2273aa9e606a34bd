"""The query language, parsed once into an AST that each backend compiles.

A small hand-written recursive-descent parser: the grammar is a dozen lines,
its errors can name the exact problem in the officer's words, and it adds no
dependency.

    query   := or
    or      := and ("OR" and)*
    and     := unary (["AND"] unary)*          juxtaposition means AND
    unary   := "NOT" unary | "-" primary | primary
    primary := "(" or ")" | '"' phrase '"' | "NEAR(" word word ["," N] ")"
             | field ":" value | word ["*"]
    field   := from | in | platform | kind | after | before | has | thread | workspace

Operators are upper case; lower-case ``and``/``or``/``not`` are words.
"""

from __future__ import annotations

import re
from dataclasses import dataclass
from datetime import UTC, datetime
from functools import lru_cache

from archive.errors import ConfigError
from archive.model import Kind, Platform
from search.text import fold, is_split_script, tokens

NEAR_DEFAULT = 10
NEAR_MAX = 50  # PostgreSQL spells NEAR as one <N> alternative per distance
FIELDS = ("from", "in", "platform", "kind", "after", "before", "has", "thread", "workspace")


class QueryError(ConfigError):
    """The query cannot be parsed (exit code 2)."""


@dataclass(frozen=True, slots=True)
class Text:
    """Tokens that must appear in this order (one token: a word); ``prefix`` on the last."""

    tokens: tuple[str, ...]
    prefix: bool = False


@dataclass(frozen=True, slots=True)
class Near:
    """Two words with at most ``distance`` tokens between them, in either order."""

    left: str
    right: str
    distance: int = NEAR_DEFAULT


@dataclass(frozen=True, slots=True)
class Filter:
    """A field filter; ``value`` is as typed, ``folded`` for names, ``moment`` for times."""

    field: str
    value: str
    folded: str = ""
    moment: datetime | None = None


@dataclass(frozen=True, slots=True)
class And:
    items: tuple[Node, ...]


@dataclass(frozen=True, slots=True)
class Or:
    items: tuple[Node, ...]


@dataclass(frozen=True, slots=True)
class Not:
    item: Node


Node = Text | Near | Filter | And | Or | Not

_LEXEME = re.compile(
    r'\s*(?:(?P<near>NEAR\([^)]*\)?)|(?P<punct>[()])|"(?P<phrase>[^"]*)"?|(?P<word>[^\s()"]+))'
)
_FIELD = re.compile(r"(?P<field>[a-z]+):(?P<value>.*)", re.DOTALL)


@dataclass(frozen=True, slots=True)
class _Lexeme:
    kind: str  # near | punct | phrase | word | field
    text: str
    field: str = ""


def _lex(query: str) -> list[_Lexeme]:
    out: list[_Lexeme] = []
    position = 0
    while position < len(query):
        match = _LEXEME.match(query, position)
        if match is None or match.end() == position:
            break
        position = match.end()
        kind = match.lastgroup or ""
        text = match.group(kind) if kind else ""
        if kind == "word":
            field = _FIELD.fullmatch(text)
            if field and field["field"] in FIELDS:
                value = field["value"]
                if not value and query[position : position + 1] == '"':
                    end = query.find('"', position + 1)
                    end = len(query) if end < 0 else end
                    value, position = query[position + 1 : end], end + 1
                out.append(_Lexeme("field", value, field["field"]))
                continue
        out.append(_Lexeme(kind, text))
    return out


class _Parser:
    def __init__(self, query: str) -> None:
        self.items = _lex(query)
        self.at = 0

    def peek(self) -> _Lexeme | None:
        return self.items[self.at] if self.at < len(self.items) else None

    def take(self) -> _Lexeme:
        item = self.items[self.at]
        self.at += 1
        return item

    def is_op(self, word: str) -> bool:
        item = self.peek()
        return item is not None and item.kind == "word" and item.text == word

    def parse(self) -> Node:
        if not self.items:
            raise QueryError("search query is empty")
        node = self.or_()
        if self.peek() is not None:
            raise QueryError(f"unexpected {self.peek().text!r} in the search query")  # type: ignore[union-attr]
        return node

    def or_(self) -> Node:
        items = [self.and_()]
        while self.is_op("OR"):
            self.take()
            items.append(self.and_())
        return items[0] if len(items) == 1 else Or(tuple(items))

    def and_(self) -> Node:
        items = [self.unary()]
        while True:
            item = self.peek()
            if item is None or self.is_op("OR") or (item.kind == "punct" and item.text == ")"):
                break
            if self.is_op("AND"):
                self.take()
            items.append(self.unary())
        return items[0] if len(items) == 1 else And(tuple(items))

    def unary(self) -> Node:
        if self.is_op("NOT"):
            self.take()
            return Not(self.unary())
        item = self.peek()
        if (
            item is not None
            and item.kind == "word"
            and item.text.startswith("-")
            and item.text != "-"
        ):
            self.take()
            self.items.insert(self.at, _Lexeme("word", item.text[1:]))
            return Not(self.primary())
        return self.primary()

    def primary(self) -> Node:
        if self.peek() is None:
            raise QueryError("the search query ends where a word was expected")
        item = self.take()
        if item.kind == "punct":
            if item.text == ")":
                raise QueryError("unmatched ')' in the search query")
            node = self.or_()
            closing = self.peek()
            if closing is None or closing.text != ")" or closing.kind != "punct":
                raise QueryError("missing ')' in the search query")
            self.take()
            return node
        if item.kind == "near":
            return self.near(item.text)
        if item.kind == "field":
            return parse_filter(item.field, item.text)
        if item.kind == "word" and item.text in ("AND", "OR"):
            raise QueryError(f"{item.text} needs a word on both sides")
        return text_node(item.text, phrase=item.kind == "phrase")

    def near(self, body: str) -> Node:
        if not body.endswith(")"):
            raise QueryError("NEAR( is not closed")
        words_text, comma, distance_text = body[len("NEAR(") : -1].partition(",")
        distance = NEAR_DEFAULT
        if comma:
            if not distance_text.strip().isdigit():
                raise QueryError("NEAR distance must be a number: NEAR(a b, 5)")
            distance = int(distance_text)
            if distance > NEAR_MAX:
                raise QueryError(f"NEAR distance must be at most {NEAR_MAX}")
        parts = [tokens(w) for w in words_text.split()]
        if len(parts) != 2 or any(len(p) != 1 for p in parts):
            raise QueryError("NEAR takes exactly two single words: NEAR(a b, 5)")
        return Near(parts[0][0], parts[1][0], distance)


def text_node(word: str, *, phrase: bool = False) -> Node:
    """A word (``budget``, ``budg*``) or a phrase; a word of several tokens is a phrase."""
    prefix = not phrase and word.endswith("*")
    found = tuple(tokens(word.rstrip("*") if prefix else word))
    if not found:
        raise QueryError(f"{word!r} has no letters or digits to search for")
    if prefix and is_split_script(found[-1]) and len(found) == 1:
        prefix = False  # one character of a split script is already the smallest unit
    return Text(found, prefix)


def parse_filter(field: str, value: str) -> Filter:
    """Check a ``field:value`` filter and normalize its value."""
    if not value:
        raise QueryError(f"{field}: needs a value")
    if field in ("after", "before"):
        return Filter(field, value, moment=parse_moment(value))
    if field == "has":
        if value.lower() not in ("file", "files", "attachment"):
            raise QueryError("has: takes file (has:file)")
        return Filter(field, "file")
    if field == "platform":
        if value.lower() not in {p.value for p in Platform}:
            raise QueryError(
                f"platform:{value} is not one of {', '.join(p.value for p in Platform)}"
            )
        return Filter(field, value.lower())
    if field == "kind":
        if value.lower() not in {k.value for k in Kind}:
            raise QueryError(f"kind:{value} is not a record kind (message, edit, delete, ...)")
        return Filter(field, value.lower())
    if field == "in":
        value = value.removeprefix("#")
    if field == "from":
        value = value.removeprefix("@")
    return Filter(field, value, folded=name_key(value))


@lru_cache(maxsize=65536)  # names repeat on every message of a sender or conversation
def name_key(name: str) -> str:
    """A name, e-mail or conversation name as compared by filters (folded, spaces collapsed)."""
    return " ".join(fold(name).split())


def parse_moment(text: str) -> datetime:
    """``2026-11-02``, ``2026-11-02T09:30`` or with an offset; UTC when none is given."""
    try:
        moment = datetime.fromisoformat(text.replace("Z", "+00:00"))
    except ValueError as exc:
        raise QueryError(f"{text!r} is not a date (2026-11-02) or ISO 8601 timestamp") from exc
    if moment.tzinfo is None:
        moment = moment.replace(tzinfo=UTC)
    return moment.astimezone(UTC)


def parse(query: str) -> Node:
    """Parse ``query``; QueryError (exit 2) names what is wrong."""
    return _Parser(query).parse()


def positive_terms(node: Node) -> list[Text | Near]:
    """The text leaves not under a NOT (what a snippet highlights)."""
    if isinstance(node, Text | Near):
        return [node]
    if isinstance(node, And | Or):
        return [leaf for item in node.items for leaf in positive_terms(item)]
    return []
