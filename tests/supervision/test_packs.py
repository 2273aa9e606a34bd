"""The shipped lexicon packs: recall and false positives on realistic multi-language chat."""

from __future__ import annotations

import pytest

from supervision.fold import fold
from supervision.matcher import Matcher
from supervision.packs import SHIPPED, load_pack
from tests.supervision.corpus import CLEAN, HITS

MATCHER = Matcher([("all", [rule for name in SHIPPED for rule in load_pack(name).rules])])


def _rules(text: str) -> set[tuple[str, str]]:
    return {(h.lexicon, h.rule) for h in MATCHER.scan(fold(text)).get("all", [])}


@pytest.mark.parametrize(("text", "expected"), HITS, ids=[t[:40] for t, _ in HITS])
def test_pack_hits_expected_rules(text: str, expected: frozenset[tuple[str, str]]) -> None:
    """Each realistic message hits exactly the pack rules it should."""
    assert _rules(text) == set(expected)


@pytest.mark.parametrize("text", CLEAN, ids=[t[:40] for t in CLEAN])
def test_pack_stays_silent_on_ordinary_chat(text: str) -> None:
    """Ordinary desk chat (and negations, names, place names) hits nothing."""
    assert _rules(text) == set()


def test_every_shipped_pack_is_exercised_and_described() -> None:
    """Each pack loads, says what it is, and has at least one hit in the corpus."""
    hit_lexicons = {lexicon for _, expected in HITS for lexicon, _ in expected}
    for name in SHIPPED:
        pack = load_pack(name)
        assert pack.description and pack.version and len(pack.languages) >= 3
        assert name in hit_lexicons


def test_hits_point_at_the_original_text() -> None:
    """Hit positions are in the original text, even where folding changed its length."""
    text = "Straße:  so eine Scheiße,\n   rendement   GARANTI"
    hits = MATCHER.scan(fold(text))["all"]
    assert [text[h.start : h.end] for h in hits] == ["Scheiße", "rendement   GARANTI"]
    assert [h.matched for h in hits] == ["Scheiße", "rendement   GARANTI"]
