"""Compiled matching: Aho-Corasick automatons find the literals, regexes only confirm.

Two automatons serve every rule of every policy at once:

- the *term* automaton runs over the folded text with ``-``, ``_`` and ``.`` written as
  spaces (position for position; folding already made each run of white space one space);
  it finds terms (also written without their spaces) and prefixes directly, and a
  word-boundary check on the neighbouring characters decides;
- the *anchor* automaton runs over the folded text itself; it finds substrings directly
  and tells which regex and proximity probes can match at all, so only those run.

A message without any literal of any rule costs one fold, one substitution and two
automaton passes, whatever the number of lexicons. Positions are mapped back to the
original text for highlighting.
"""

from __future__ import annotations

import re
from collections.abc import Iterable, Sequence
from dataclasses import dataclass

import ahocorasick

from supervision.fold import Folded
from supervision.lexicon import Near, Rule, near_word_pattern, term_anchor, term_pattern

_WORD = re.compile(r"\w+")
_TERM, _PREFIX, _SUBSTRING, _PROBE = 0, 1, 2, 3
Entry = tuple[int, int, int]  # (kind, owner or probe id, length of the literal)


def spaced(text: str) -> str:
    """``text`` with ``-``, ``_`` and ``.`` as spaces, position for position (for terms)."""
    return text.replace("-", " ").replace("_", " ").replace(".", " ")


def _is_word(char: str) -> bool:
    return char.isalnum() or char == "_"


@dataclass(frozen=True, slots=True)
class Hit:
    """A rule's match, at its position in the original text (for highlighting)."""

    lexicon: str
    rule: str
    start: int
    end: int
    matched: str  # the original text of the span

    def to_dict(self) -> dict[str, object]:
        return {
            "lexicon": self.lexicon,
            "rule": self.rule,
            "start": self.start,
            "end": self.end,
            "matched": self.matched,
        }


@dataclass(frozen=True, slots=True)
class _Owner:
    rule: Rule
    group: str
    exclude: re.Pattern[str] | None


@dataclass(frozen=True, slots=True)
class _Probe:
    owner: int
    pattern: re.Pattern[str] | None  # a regex rule
    near: tuple[re.Pattern[str], re.Pattern[str], int, str] | None  # first, second, within, anchor


def _exclude(rule: Rule) -> re.Pattern[str] | None:
    if not rule.exclude:
        return None
    return re.compile("|".join(term_pattern(t) for t in rule.exclude))


def _near_spans(
    text: str, near: tuple[re.Pattern[str], re.Pattern[str], int, str]
) -> list[tuple[int, int]]:
    first, second, within, needed = near
    if needed not in text:
        return []
    firsts = [m.span() for m in first.finditer(text)]
    seconds = [m.span() for m in second.finditer(text)] if firsts else []
    spans = []
    for a in firsts:
        for b in seconds:
            left, right = (a, b) if a[0] <= b[0] else (b, a)
            if left[1] <= right[0] and len(_WORD.findall(text, left[1], right[0])) <= within:
                spans.append((left[0], right[1]))
    return spans


class Matcher:
    """All the rules of all groups, compiled once; ``scan`` returns hits per group."""

    def __init__(self, groups: Iterable[tuple[str, Sequence[Rule]]]) -> None:
        self._owners: list[_Owner] = []
        self._probes: list[_Probe] = []
        self._always: list[int] = []
        terms: dict[str, list[Entry]] = {}  # over the spaced text
        anchors: dict[str, list[Entry]] = {}  # over the folded text
        for group, rules in groups:
            for rule in rules:
                owner = len(self._owners)
                self._owners.append(_Owner(rule, group, _exclude(rule)))
                for term in rule.terms:
                    written = " ".join(spaced(term).split())
                    for literal in {written, written.replace(" ", "")}:
                        terms.setdefault(literal, []).append((_TERM, owner, len(literal)))
                for prefix in rule.prefixes:
                    literal = spaced(prefix)
                    terms.setdefault(literal, []).append((_PREFIX, owner, len(literal)))
                for substring in rule.substrings:
                    anchors.setdefault(substring, []).append((_SUBSTRING, owner, len(substring)))
                for pattern in rule.regex:
                    self._probe(_Probe(owner, re.compile(pattern), None), anchors, rule.anchors)
                for near in rule.near:
                    compiled = (
                        re.compile(near_word_pattern(near.first)),
                        re.compile(near_word_pattern(near.second)),
                        near.within,
                        term_anchor(near.second.rstrip("*")),
                    )
                    self._probe(_Probe(owner, None, compiled), anchors, [_anchor(near)])
        self._terms = _automaton(terms)
        self._anchors = _automaton(anchors)

    def _probe(
        self, probe: _Probe, anchors: dict[str, list[Entry]], literals: Sequence[str]
    ) -> None:
        index = len(self._probes)
        self._probes.append(probe)
        if not literals:
            self._always.append(index)
        for literal in literals:
            anchors.setdefault(literal, []).append((_PROBE, index, len(literal)))

    def scan(self, folded: Folded) -> dict[str, list[Hit]]:
        """Hits in ``folded``, by group; empty when nothing matches."""
        text = folded.text
        spans: dict[int, list[tuple[int, int]]] = {}
        if self._terms is not None:
            words = spaced(text)
            for last, entries in self._terms.iter(words):
                for kind, owner, length in entries:
                    start, end = last - length + 1, last + 1
                    if start > 0 and _is_word(words[start - 1]):
                        continue
                    if kind == _TERM and end < len(words) and _is_word(words[end]):
                        continue
                    while kind == _PREFIX and end < len(words) and _is_word(words[end]):
                        end += 1
                    spans.setdefault(owner, []).append((start, end))
        triggered: set[int] = set(self._always)
        if self._anchors is not None:
            for last, entries in self._anchors.iter(text):
                for kind, ident, length in entries:
                    if kind == _SUBSTRING:
                        spans.setdefault(ident, []).append((last - length + 1, last + 1))
                    else:
                        triggered.add(ident)
        for index in triggered:
            probe = self._probes[index]
            if probe.pattern is not None:
                found = [m.span() for m in probe.pattern.finditer(text) if m.end() > m.start()]
            else:
                assert probe.near is not None
                found = _near_spans(text, probe.near)
            if found:
                spans.setdefault(probe.owner, []).extend(found)
        return self._hits(folded, spans) if spans else {}

    def _hits(
        self, folded: Folded, spans: dict[int, list[tuple[int, int]]]
    ) -> dict[str, list[Hit]]:
        found: dict[str, list[Hit]] = {}
        for owner_id in sorted(spans):
            owner = self._owners[owner_id]
            kept = sorted(set(spans[owner_id]))
            if owner.exclude is not None:
                cancelled = [m.span() for m in owner.exclude.finditer(folded.text)]
                kept = [s for s in kept if not any(c[0] < s[1] and s[0] < c[1] for c in cancelled)]
            group = found.setdefault(owner.group, [])
            for start, end in kept:
                first, last = folded.span(start, end)
                group.append(
                    Hit(owner.rule.lexicon, owner.rule.id, first, last, folded.original[first:last])
                )
        for group_hits in found.values():
            group_hits.sort(key=lambda h: (h.start, h.end, h.rule))
        return {g: h for g, h in found.items() if h}


def _anchor(near: Near) -> str:
    return term_anchor(near.first.rstrip("*"))


def _automaton(literals: dict[str, list[Entry]]) -> ahocorasick.Automaton | None:
    if not literals:
        return None
    automaton = ahocorasick.Automaton()
    for literal, values in literals.items():
        automaton.add_word(literal, tuple(values))
    automaton.make_automaton()
    return automaton
