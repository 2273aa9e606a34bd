"""SqliteSearchIndex against the search contract."""

from __future__ import annotations

from collections.abc import Iterator
from pathlib import Path

import pytest

from search.sqlite_index import SqliteSearchIndex
from tests.search.contract import OpenIndex, SearchIndexContract


@pytest.fixture
def open_index(tmp_path: Path) -> Iterator[OpenIndex]:
    opened: list[SqliteSearchIndex] = []

    def factory(stream: str) -> SqliteSearchIndex:
        index = SqliteSearchIndex(tmp_path / "search.db", stream)
        opened.append(index)
        return index

    yield factory
    for index in opened:
        index.close()


class TestSqliteSearchIndex(SearchIndexContract):
    pass


def test_facet_tokens_are_never_matched_by_text(open_index: OpenIndex) -> None:
    """Filters indexed as facet tokens cannot be hit by a text query such as f* or a token's text."""
    from search.facets import facet
    from tests.search.contract import labels, load

    index = open_index("main")
    load(index)
    assert "french" not in labels(index, "f*")  # its text has no word starting with f
    assert labels(index, facet("kind", "message")) == []
    assert labels(index, "from:U0ELODIE f*") == ["budgeting", "german"]  # "früh", "for"
