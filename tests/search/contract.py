"""The contract every SearchIndex adapter passes, on the multi-language corpus.

Subclass ``SearchIndexContract`` and provide ``open_index(stream)``, a fixture
returning a factory of fresh indexes that share one storage location.
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import replace

import pytest

from archive.errors import ConfigError
from search.document import document_for
from search.port import IndexedBundle, RefusedBundle, SearchIndex
from search.query import QueryError
from search.service import search
from tests.search.corpus import LABELS, corpus

OpenIndex = Callable[[str], SearchIndex]


def load(index: SearchIndex) -> None:
    """The corpus as two bundles: records 1-10 and 11-21."""
    records = corpus()
    for number, part in ((1, records[:10]), (2, records[10:])):
        docs = [document_for(r, number) for r in part]
        assert index.add_bundle(IndexedBundle(number, f"sha-{number}", len(docs)), docs)


def labels(index: SearchIndex, query: str, limit: int | None = None) -> list[str]:
    return [LABELS[r.hit.seq] for r in search(index, query, limit)[1]]


# (query, expected labels, newest first)
EXPECTED = [
    ("budget", ["budget_q3"]),
    ("BUDGET board", ["budget_q3"]),
    ("budget*", ["budgeting", "budget_q3"]),
    ('"term sheet"', ["term_sheet_edit2", "term_sheet_edit1", "term_sheet"]),
    ('"sheet term"', []),
    ("revised", ["term_sheet_edit1"]),
    ("term-sheet-v2", ["term_sheet"]),
    ("whatsapp", ["whatsapp_deleted", "whatsapp"]),
    ("whatsapp kind:delete", ["whatsapp_deleted"]),
    ("whatsapp NOT kind:delete", ["whatsapp"]),
    ("cafe", ["telegram_photo", "french"]),
    ("café platform:slack", ["french"]),
    ("reunion cloture", ["french"]),
    ("strasse", ["german"]),
    ("ubergabe", ["german"]),
    ("התקציב", ["hebrew"]),
    ("שלום", ["hebrew_niqqud"]),
    ("الميزانية", ["arabic"]),
    ("مرحبا", ["arabic_harakat"]),
    ("会议", ["chinese"]),
    ("预算", ["chinese"]),
    ("予算", ["japanese"]),
    ("会", ["japanese", "chinese"]),
    ("議 会", ["japanese"]),
    ("会議", ["japanese"]),
    ("ガイドライン", ["japanese"]),
    ("カイドライン", []),
    ("회의", ["korean"]),
    ("бюджет", ["russian"]),
    ("утвержден", ["russian"]),
    ("NEAR(trade confirmed, 6)", ["booked"]),
    ("NEAR(confirmed trade, 6)", ["booked"]),
    ("NEAR(trade confirmed, 5)", []),
    ("NEAR(trade confirmed)", ["booked"]),
    ("budget OR cafe", ["telegram_photo", "french", "budget_q3"]),
    ("(budget OR cafe) -board", ["telegram_photo", "french"]),
    ("review AND signing -tomorrow", ["term_sheet_edit1", "term_sheet"]),
    ("from:dana.levi@example.com sheet", ["term_sheet_edit2", "term_sheet_edit1", "term_sheet"]),
    ('from:"dana levi" budget', ["budget_q3"]),
    ("from:U0MEI", ["joined", "korean", "japanese", "chinese"]),
    ("from:elodie martin", []),
    ('from:"Elodie Martin" cafe', ["french"]),
    ("in:#asia-desk", ["korean", "japanese", "chinese"]),
    ('in:"trading desk tlv"', ["telegram_photo", "russian"]),
    ("in:-1001234 cafe", ["telegram_photo"]),
    ("has:file", ["telegram_photo", "term_sheet"]),
    ("has:file q3", ["telegram_photo"]),
    ("platform:telegram", ["telegram_photo", "russian"]),
    ("kind:reaction_added", ["reaction"]),
    ("kind:edit", ["term_sheet_edit2", "term_sheet_edit1"]),
    ("after:2026-11-02T08:19 before:2026-11-02T08:20", ["russian"]),
    ("budget after:2026-11-03", []),
    ("before:2026-11-02T08:02", ["term_sheet", "budget_q3"]),
    (
        "cafe OR in:asia-desk",
        ["telegram_photo", "korean", "japanese", "chinese", "french"],
    ),
    ("NOT (budget OR sheet OR kind:message)", ["joined", "reaction", "whatsapp_deleted"]),
]


class SearchIndexContract:
    @pytest.fixture
    def index(self, open_index: OpenIndex) -> SearchIndex:
        index = open_index("main")
        load(index)
        return index

    @pytest.mark.parametrize(("query", "expected"), EXPECTED, ids=[q for q, _ in EXPECTED])
    def test_query_finds_expected_hits(
        self, index: SearchIndex, query: str, expected: list[str]
    ) -> None:
        """Each query of the multi-language corpus finds exactly its expected records, newest first."""
        assert labels(index, query) == expected

    def test_hits_name_the_version_of_the_message(self, index: SearchIndex) -> None:
        """An edit hit says which edit it is; the deleted text's hit says deleted."""
        versions = {LABELS[r.hit.seq]: r.hit.version for r in search(index, "sheet OR whatsapp")[1]}
        assert versions == {
            "term_sheet": "original",
            "term_sheet_edit1": "edit 1",
            "term_sheet_edit2": "edit 2",
            "whatsapp": "original",
            "whatsapp_deleted": "deleted",
        }

    def test_hit_carries_conversation_time_sender_and_snippet(self, index: SearchIndex) -> None:
        """A hit has its conversation, time, sender and the matched words highlighted."""
        [result] = search(index, "reunion")[1]
        hit = result.hit
        assert (hit.conversation, hit.conversation_name, hit.platform) == (
            "C0DEALS01",
            "deals",
            "slack",
        )
        assert (hit.actor_name, hit.actor_email) == ("Élodie Martin", "elodie@example.fr")
        assert hit.occurred_at == corpus()[hit.seq - 1].occurred_at
        assert hit.bundle == 1
        assert result.snippet == "Le café est prêt, **réunion** à midi pour la clôture"

    def test_cjk_snippet_marks_the_characters(self, index: SearchIndex) -> None:
        """A CJK word is highlighted as one run of characters."""
        [result] = search(index, "会议")[1]
        assert result.snippet == "明天的**会议**讨论预算"

    def test_limit_keeps_the_newest(self, index: SearchIndex) -> None:
        """--limit keeps the newest matches."""
        assert labels(index, "kind:message", limit=2) == ["telegram_photo", "russian"]

    def test_bundles_are_recorded_and_added_once(self, index: SearchIndex) -> None:
        """The index records the bundles it holds; adding one again is a no-op."""
        assert [(b.number, b.manifest_sha256, b.records) for b in index.held()] == [
            (1, "sha-1", 10),
            (2, "sha-2", 11),
        ]
        again = [document_for(r, 1) for r in corpus()[:10]]
        assert index.add_bundle(IndexedBundle(1, "sha-1", 10), again) is False
        assert labels(index, "budget") == ["budget_q3"]

    def test_refused_bundle_is_recorded_until_indexed(self, open_index: OpenIndex) -> None:
        """A refused bundle is listed with its problem until it is indexed."""
        index = open_index("main")
        index.refuse_bundle(RefusedBundle(1, "signature does not verify"))
        index.refuse_bundle(RefusedBundle(1, "records object hash mismatch"))
        assert index.refused() == [RefusedBundle(1, "records object hash mismatch")]
        load(index)
        assert index.refused() == []

    def test_failed_bundle_leaves_nothing_behind(self, open_index: OpenIndex) -> None:
        """If reading a bundle's records fails midway, none of them is indexed."""
        index = open_index("main")

        def broken():  # type: ignore[no-untyped-def]
            yield document_for(corpus()[0], 1)
            raise OSError("connection reset")

        with pytest.raises(OSError):
            index.add_bundle(IndexedBundle(1, "sha-1", 10), broken())
        assert index.held() == []
        assert labels(index, "budget") == []

    def test_reset_empties_the_index(self, index: SearchIndex) -> None:
        """reset() forgets documents and bundles (for --rebuild)."""
        index.reset()
        assert index.held() == [] and labels(index, "budget OR kind:message") == []
        load(index)
        assert labels(index, "budget") == ["budget_q3"]

    def test_persists_across_reopen(self, index: SearchIndex, open_index: OpenIndex) -> None:
        """A reopened index has the same documents and bundles."""
        index.close()
        again = open_index("main")
        assert [b.number for b in again.held()] == [1, 2]
        assert labels(again, '"term sheet" kind:edit') == ["term_sheet_edit2", "term_sheet_edit1"]

    def test_other_stream_is_refused(self, index: SearchIndex, open_index: OpenIndex) -> None:
        """An index built for one stream refuses to open for another."""
        index.close()
        with pytest.raises(ConfigError, match="--rebuild"):
            open_index("other")

    def test_bad_query_is_a_usage_error(self, index: SearchIndex) -> None:
        """A malformed query raises QueryError (exit code 2), not a database error."""
        for query in ('"unclosed', "(budget", "kind:nonsense", "after:yesterday", "AND", "!!!"):
            if query == '"unclosed':
                assert labels(index, query) == []  # an unclosed quote ends at the end
                continue
            with pytest.raises(QueryError) as caught:
                search(index, query)
            assert caught.value.exit_code == 2

    def test_text_with_quotes_and_operators_is_data(self, open_index: OpenIndex) -> None:
        """Quotes, colons, stars and SQL in message text are only words."""
        index = open_index("main")
        record = replace(corpus()[0], text='it\'s "NEAR"(x) OR 1=1; -- DROP TABLE search_docs*')
        index.add_bundle(IndexedBundle(1, "s", 1), [document_for(record, 1)])
        assert labels(index, "drop table") == ["budget_q3"]
        assert labels(index, "near") == ["budget_q3"]
        assert labels(index, "it's") == ["budget_q3"]
