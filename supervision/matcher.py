"""Compiled matching: one Aho-Corasick automaton over every anchor, regexes confirm.

Each rule compiles into probes: a regex plus the literal anchors (folded) that any of its
matches contains. One pass of the automaton over a folded message tells which probes can
match at all; only those run their regex. Most messages hold no anchor and cost one fold and
one automaton pass, whatever the number of lexicons.
"""

from __future__ import annotations

import re
from collections.abc import Iterable, Sequence
from dataclasses import dataclass

import ahocorasick

from supervision.fold import Folded
from supervision.lexicon import (
    Near,
    Rule,
    near_word_pattern,
    prefix_pattern,
    term_anchor,
    term_pattern,
)

_WORD = re.compile(r"\w+")


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
class _Probe:
    rule: Rule
    pattern: re.Pattern[str] | None
    near: Near | None
    exclude: re.Pattern[str] | None
    group: str  # which lexicon group (policy) the probe belongs to


def _literal_pattern(rule: Rule) -> str | None:
    parts = [term_pattern(t) for t in rule.terms]
    parts += [prefix_pattern(p) for p in rule.prefixes]
    parts += [re.escape(s) for s in rule.substrings]
    return "|".join(parts) or None


def _literal_anchors(rule: Rule) -> list[str]:
    return [term_anchor(t) for t in rule.terms] + list(rule.prefixes) + list(rule.substrings)


def _near_anchor(near: Near) -> str:
    return term_anchor(near.first.rstrip("*"))


def _exclude(rule: Rule) -> re.Pattern[str] | None:
    if not rule.exclude:
        return None
    return re.compile("|".join(term_pattern(t) for t in rule.exclude))


def _near_spans(text: str, near: Near) -> list[tuple[int, int]]:
    firsts = [m.span() for m in re.finditer(near_word_pattern(near.first), text)]
    if not firsts:
        return []
    seconds = [m.span() for m in re.finditer(near_word_pattern(near.second), text)]
    spans = []
    for a in firsts:
        for b in seconds:
            left, right = (a, b) if a[0] <= b[0] else (b, a)
            if left[1] > right[0]:
                continue
            if len(_WORD.findall(text, left[1], right[0])) <= near.within:
                spans.append((left[0], right[1]))
    return spans


class Matcher:
    """All the rules of all groups, compiled once; ``scan`` returns hits per group."""

    def __init__(self, groups: Iterable[tuple[str, Sequence[Rule]]]) -> None:
        self._probes: list[_Probe] = []
        self._always: list[int] = []
        anchors: dict[str, list[int]] = {}
        for group, rules in groups:
            for rule in rules:
                exclude = _exclude(rule)
                literal = _literal_pattern(rule)
                if literal is not None:
                    self._add(
                        _Probe(rule, re.compile(literal), None, exclude, group),
                        anchors,
                        _literal_anchors(rule),
                    )
                for pattern in rule.regex:
                    probe = _Probe(rule, re.compile(pattern), None, exclude, group)
                    self._add(probe, anchors, list(rule.anchors))
                for near in rule.near:
                    self._add(
                        _Probe(rule, None, near, exclude, group), anchors, [_near_anchor(near)]
                    )
        self._automaton = ahocorasick.Automaton()
        for anchor, probes in anchors.items():
            self._automaton.add_word(anchor, tuple(probes))
        if anchors:
            self._automaton.make_automaton()
        self._has_anchors = bool(anchors)

    def _add(self, probe: _Probe, anchors: dict[str, list[int]], literals: list[str]) -> None:
        index = len(self._probes)
        self._probes.append(probe)
        if not literals:
            self._always.append(index)
        for literal in literals:
            anchors.setdefault(literal, []).append(index)

    def scan(self, folded: Folded) -> dict[str, list[Hit]]:
        """Hits in ``folded``, by group; empty when nothing matches."""
        text = folded.text
        triggered: set[int] = set(self._always)
        if self._has_anchors:
            for _, probes in self._automaton.iter(text):
                triggered.update(probes)
        if not triggered:
            return {}
        found: dict[str, list[Hit]] = {}
        for index in sorted(triggered):
            probe = self._probes[index]
            if probe.pattern is not None:
                spans = [m.span() for m in probe.pattern.finditer(text) if m.end() > m.start()]
            else:
                assert probe.near is not None
                spans = _near_spans(text, probe.near)
            if spans and probe.exclude is not None:
                cancelled = [m.span() for m in probe.exclude.finditer(text)]
                spans = [
                    s for s in spans if not any(c[0] < s[1] and s[0] < c[1] for c in cancelled)
                ]
            for start, end in spans:
                first, last = folded.span(start, end)
                hit = Hit(
                    probe.rule.lexicon, probe.rule.id, first, last, folded.original[first:last]
                )
                group = found.setdefault(probe.group, [])
                if hit not in group:
                    group.append(hit)
        for hits in found.values():
            hits.sort(key=lambda h: (h.start, h.end, h.rule))
        return found
