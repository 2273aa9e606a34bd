"""Lexicon rules and their parsing: terms, prefixes, substrings, regexes, proximity, exclusions.

A lexicon is a list of rules; each rule has an ``id`` and any of:

- ``terms``: whole words or phrases. A space in a term matches white space (any run), one
  ``-``, ``_`` or ``.``, or nothing when the whole term is written without its spaces: so
  ``"whats app"`` also hits "whatsapp", "whats-app" and "whats.app".
- ``prefixes``: a word starting with the text (``"guarant"`` hits "guaranteed").
- ``substrings``: anywhere, also inside a word (for scripts without spaces, and compounds).
- ``regex``: Python regular expressions over the folded text; ``anchors`` lists literals one of
  which every match contains, so the regex runs only on messages holding one (without anchors
  the regex runs on every message: slower).
- ``near``: ``'"guarant*" NEAR/5 "return*"'``: both within N words (default 5), either order;
  a trailing ``*`` makes a prefix.
- ``exclude``: phrases (as ``terms``) whose match overlapping a hit cancels it
  (``"signal processing"``); a lexicon-wide ``exclude`` applies to all its rules.

Everything is folded (``supervision.fold``) before compiling, so matching ignores case and
accents. Bad rules raise ConfigError naming the lexicon and rule.
"""

from __future__ import annotations

import re
from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from typing import Any

from archive.errors import ConfigError
from supervision.fold import fold_term

_NEAR = re.compile(r'^\s*"([^"]+)"\s+NEAR(?:/(\d+))?\s+"([^"]+)"\s*$')
_SEPARATOR = r"[\s\-_.]*"
_RULE_KEYS = frozenset(
    {"id", "terms", "prefixes", "substrings", "regex", "anchors", "near", "exclude", "note"}
)
DEFAULT_NEAR = 5


@dataclass(frozen=True, slots=True)
class Near:
    first: str  # folded; a trailing * marks a prefix
    second: str
    within: int


@dataclass(frozen=True, slots=True)
class Rule:
    """One rule of a lexicon, folded and validated, not yet compiled."""

    lexicon: str
    id: str
    terms: tuple[str, ...] = ()
    prefixes: tuple[str, ...] = ()
    substrings: tuple[str, ...] = ()
    regex: tuple[str, ...] = ()
    anchors: tuple[str, ...] = ()
    near: tuple[Near, ...] = ()
    exclude: tuple[str, ...] = ()


def term_pattern(term: str) -> str:
    """The regex of a whole-word term or phrase (already folded)."""
    tokens = term.split()
    body = _SEPARATOR.join(re.escape(t) for t in tokens)
    return rf"(?<!\w){body}(?!\w)"


def prefix_pattern(prefix: str) -> str:
    return rf"(?<!\w){re.escape(prefix)}\w*"


def term_anchor(term: str) -> str:
    """A literal that every match of ``term`` contains: its longest token."""
    return max(term.split(), key=len)


def near_word_pattern(word: str) -> str:
    return prefix_pattern(word[:-1]) if word.endswith("*") else term_pattern(word)


def _strings(where: str, value: Any, fold: bool = True) -> tuple[str, ...]:
    if isinstance(value, str):
        value = [value]
    if not isinstance(value, list) or not all(isinstance(v, str) and v.strip() for v in value):
        raise ConfigError(f"{where}: must be a list of non-empty strings")
    return tuple(fold_term(v).strip() if fold else v for v in value)


def parse_near(where: str, text: str) -> Near:
    match = _NEAR.match(text)
    if match is None:
        raise ConfigError(f'{where}: {text!r} is not of the form "a" NEAR/5 "b"')
    first, within, second = match.group(1), match.group(2), match.group(3)
    return Near(fold_term(first).strip(), fold_term(second).strip(), int(within or DEFAULT_NEAR))


def parse_rule(lexicon: str, table: Mapping[str, Any], shared_exclude: Sequence[str]) -> Rule:
    rule_id = table.get("id")
    if not isinstance(rule_id, str) or not rule_id:
        raise ConfigError(f"lexicon {lexicon}: every rule needs an id")
    where = f"lexicon {lexicon} rule {rule_id}"
    unknown = set(table) - _RULE_KEYS
    if unknown:
        raise ConfigError(f"{where}: unknown key(s) {', '.join(sorted(unknown))}")
    regexes = _strings(f"{where} regex", table.get("regex", []), fold=False)
    for pattern in regexes:
        try:
            re.compile(pattern)
        except re.error as exc:
            raise ConfigError(f"{where}: regex {pattern!r} does not compile: {exc}") from exc
    rule = Rule(
        lexicon=lexicon,
        id=rule_id,
        terms=_strings(f"{where} terms", table.get("terms", [])),
        prefixes=_strings(f"{where} prefixes", table.get("prefixes", [])),
        substrings=_strings(f"{where} substrings", table.get("substrings", [])),
        regex=regexes,
        anchors=_strings(f"{where} anchors", table.get("anchors", [])),
        near=tuple(
            parse_near(where, t) for t in _strings(f"{where} near", table.get("near", []), False)
        ),
        exclude=(*shared_exclude, *_strings(f"{where} exclude", table.get("exclude", []))),
    )
    if not (rule.terms or rule.prefixes or rule.substrings or rule.regex or rule.near):
        raise ConfigError(f"{where}: has nothing to match (terms, prefixes, regex, near...)")
    return rule


def parse_lexicon(name: str, rules: Any, exclude: Any = ()) -> tuple[Rule, ...]:
    """The rules of lexicon ``name`` from its TOML ``[[rule]]`` tables."""
    if not isinstance(rules, list) or not all(isinstance(r, dict) for r in rules):
        raise ConfigError(f"lexicon {name}: rules must be [[rule]] tables")
    shared = _strings(f"lexicon {name} exclude", list(exclude)) if exclude else ()
    parsed = tuple(parse_rule(name, r, shared) for r in rules)
    ids = [r.id for r in parsed]
    if len(set(ids)) != len(ids):
        raise ConfigError(f"lexicon {name}: rule ids must be unique")
    return parsed
