"""SqliteSearchIndex against the search contract."""

from __future__ import annotations

from collections.abc import Iterator
from pathlib import Path

import pytest

from search.sqlite_index import SqliteSearchIndex
from tests.search_contract import OpenIndex, SearchIndexContract


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
