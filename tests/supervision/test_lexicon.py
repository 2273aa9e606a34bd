"""Lexicon rules: terms, prefixes, substrings, regexes, proximity, exclusions, folding."""

from __future__ import annotations

from typing import Any

import pytest

from archive.errors import ConfigError
from supervision.fold import fold
from supervision.lexicon import parse_lexicon
from supervision.matcher import Matcher


def _spans(rule: dict[str, Any], text: str, exclude: tuple[str, ...] = ()) -> list[str]:
    matcher = Matcher([("p", parse_lexicon("test", [{"id": "r", **rule}], exclude))])
    return [h.matched for h in matcher.scan(fold(text)).get("p", [])]


def test_terms_are_whole_words_and_fold_case_and_accents() -> None:
    """A term hits whole words only, whatever the case and accents."""
    rule = {"terms": ["rendement garanti", "cafe"]}
    assert _spans(rule, "RENDEMENT Garanti au Café") == ["RENDEMENT Garanti", "Café"]
    assert _spans(rule, "cafeteria") == []


def test_term_spaces_match_separators_and_none() -> None:
    """A space in a term matches white space, a dot, dash or underscore, or nothing."""
    rule = {"terms": ["whats app"]}
    assert _spans(rule, "whatsapp / whats-app / whats_app / whats   app") == [
        "whatsapp",
        "whats-app",
        "whats_app",
        "whats   app",
    ]


def test_prefixes_and_substrings() -> None:
    """A prefix hits words that start with it; a substring hits anywhere (scripts without spaces)."""
    assert _spans({"prefixes": ["guarant"]}, "Guaranteed, unguaranteed") == ["Guaranteed"]
    assert _spans({"substrings": ["微信"]}, "加我微信吧") == ["微信"]


def test_regex_with_and_without_anchors() -> None:
    """A regex hits with or without anchors; with anchors it is skipped when none is present."""
    rule = {"regex": [r"\b\d{3}[- ]\d{4}\b"]}
    assert _spans(rule, "call 555-0100") == ["555-0100"]
    anchored = {"regex": [r"\b\d{3}[- ]\d{4}\b"], "anchors": ["call"]}
    assert _spans(anchored, "call 555-0100") == ["555-0100"]
    assert _spans(anchored, "ring 555-0100") == []


def test_near_counts_words_between_in_either_order() -> None:
    """NEAR/N hits when at most N words separate the two, in either order."""
    rule = {"near": ['"guarant*" NEAR/3 "return"']}
    assert _spans(rule, "we guarantee a solid return") == ["guarantee a solid return"]
    assert _spans(rule, "the return is guaranteed") == ["return is guaranteed"]
    assert _spans(rule, "we guarantee that you will see a return") == []


def test_exclusions_cancel_overlapping_hits_only() -> None:
    """An exclusion cancels the hits it overlaps and leaves others in the message."""
    rule = {"terms": ["signal"], "exclude": ["buy signal"]}
    assert _spans(rule, "buy signal now, then signal me") == ["signal"]
    shared = _spans({"terms": ["guaranteed"]}, "not guaranteed", exclude=("not guaranteed",))
    assert shared == []


@pytest.mark.parametrize(
    ("rule", "message"),
    [
        ({"terms": []}, "nothing to match"),
        ({"regex": ["("]}, "does not compile"),
        ({"near": ["guarantee near return"]}, "NEAR"),
        ({"terms": ["x"], "colour": "red"}, "unknown key"),
    ],
)
def test_bad_rules_are_config_errors(rule: dict[str, Any], message: str) -> None:
    """A malformed rule is refused with a ConfigError naming the lexicon and rule."""
    with pytest.raises(ConfigError, match=message) as raised:
        parse_lexicon("firm", [{"id": "r1", **rule}])
    assert "firm" in str(raised.value)
