"""The query language: parsing into the AST, tokens, and errors in the officer's words."""

from __future__ import annotations

from datetime import UTC, datetime

import pytest

from search.compile import plan
from search.query import And, Filter, Near, Not, Or, QueryError, Text, parse
from search.text import fold, tokens


def test_juxtaposition_is_and_and_or_binds_looser() -> None:
    """`a b OR c` is (a AND b) OR c; parentheses group."""
    assert parse("a b OR c") == Or((And((Text(("a",)), Text(("b",)))), Text(("c",))))
    assert parse("a (b OR c)") == And((Text(("a",)), Or((Text(("b",)), Text(("c",))))))
    assert parse("a AND b") == parse("a b")


def test_not_and_minus_negate() -> None:
    """NOT x and -x are the same negation; lower-case not is a word."""
    assert parse("a NOT b") == parse("a -b") == And((Text(("a",)), Not(Text(("b",)))))
    assert parse("not b") == And((Text(("not",)), Text(("b",))))


def test_phrases_prefixes_and_compound_words() -> None:
    """Quoted phrases, a trailing * and hyphenated words become token sequences."""
    assert parse('"Term Sheet"') == Text(("term", "sheet"))
    assert parse("budg*") == Text(("budg",), prefix=True)
    assert parse("e-mail") == Text(("e", "mail"))


def test_cjk_word_is_a_phrase_of_characters() -> None:
    """A Chinese or Japanese word is searched as its characters in a row."""
    assert parse("会议") == Text(("会", "议"))
    assert tokens("明天的会议 and Q3") == ["明", "天", "的", "会", "议", "and", "q3"]


def test_folding_removes_accents_and_marks_but_keeps_kana_voicing() -> None:
    """Accents, niqqud and harakat fold away; ガ stays distinct from カ."""
    assert fold("Réunion Übergabe Straße") == "reunion ubergabe strasse"
    assert fold("שָׁלוֹם") == "שלום"
    assert fold("مَرْحَبًا") == "مرحبا"
    assert fold("ガイド") != fold("カイド")
    assert tokens("회의를") == ["회", "의", "를"]


def test_near_with_and_without_distance() -> None:
    """NEAR(a b, N) takes two words and an optional distance (default 10)."""
    assert parse("NEAR(Trade confirmed, 5)") == Near("trade", "confirmed", 5)
    assert parse("NEAR(a b)") == Near("a", "b", 10)


def test_filters_with_quoted_values_and_dates() -> None:
    """Filters take bare or quoted values; dates are UTC; # and @ are optional."""
    node = parse('from:"Dana Levi" in:#deals after:2026-11-02 has:file')
    assert node == And(
        (
            Filter("from", "Dana Levi", "dana levi"),
            Filter("in", "deals", "deals"),
            Filter("after", "2026-11-02", moment=datetime(2026, 11, 2, tzinfo=UTC)),
            Filter("has", "file"),
        )
    )
    assert parse("url:thing") == Text(("url", "thing"))  # unknown fields are words


@pytest.mark.parametrize(
    ("query", "message"),
    [
        ("", "empty"),
        ("(budget", "missing ')'"),
        ("budget)", "unexpected"),
        ("kind:nonsense", "not a record kind"),
        ("platform:teams", "not one of"),
        ("after:yesterday", "not a date"),
        ("has:link", "has: takes file"),
        ("from:", "needs a value"),
        ("NEAR(a b c, 2)", "exactly two single words"),
        ("NEAR(a b, x)", "must be a number"),
        ("NEAR(a b, 99)", "at most 50"),
        ("a OR", "ends where a word was expected"),
        ("!!!", "no letters or digits"),
    ],
)
def test_errors_name_the_problem(query: str, message: str) -> None:
    """Each malformed query raises QueryError (exit 2) saying what is wrong."""
    with pytest.raises(QueryError, match=message.replace("(", r"\(").replace(")", r"\)")) as caught:
        parse(query)
    assert caught.value.exit_code == 2


def test_planner_drives_by_the_full_text_part() -> None:
    """Words drive the query and filters are checked on their matches; a lone NOT cannot drive."""
    driver, rest = plan(parse("budget -draft from:dana in:deals"))
    assert driver == And((Text(("budget",)), Not(Text(("draft",)))))
    assert rest == And((Filter("from", "dana", "dana"), Filter("in", "deals", "deals")))
    assert plan(parse("NOT budget")) == (None, Not(Text(("budget",))))
    assert plan(parse("budget OR from:dana"))[0] is None
