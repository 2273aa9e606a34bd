"""PostgresSearchIndex against the search contract, each test in its own schema.

Runs when CHATKEEPER_TEST_PG_DSN is set.
"""

from __future__ import annotations

import os
import secrets
from collections.abc import Iterator

import psycopg
import pytest
from psycopg.conninfo import make_conninfo

from search.postgres_index import PostgresSearchIndex, tsvector_literal
from tests.search.contract import OpenIndex, SearchIndexContract

DSN = os.environ.get("CHATKEEPER_TEST_PG_DSN", "")
pytestmark = pytest.mark.skipif(not DSN, reason="CHATKEEPER_TEST_PG_DSN is not set")


@pytest.fixture
def pg_dsn() -> Iterator[str]:
    schema = f"ck_search_{secrets.token_hex(6)}"
    with psycopg.connect(DSN, autocommit=True) as admin:
        admin.execute(f"CREATE SCHEMA {schema}")
        try:
            yield make_conninfo(DSN, options=f"-csearch_path={schema}")
        finally:
            admin.execute(f"DROP SCHEMA {schema} CASCADE")


@pytest.fixture
def open_index(pg_dsn: str) -> Iterator[OpenIndex]:
    opened: list[PostgresSearchIndex] = []

    def factory(stream: str) -> PostgresSearchIndex:
        index = PostgresSearchIndex(pg_dsn, stream)
        opened.append(index)
        return index

    yield factory
    for index in opened:
        index.close()


class TestPostgresSearchIndex(SearchIndexContract):
    def test_tsvector_literal_is_read_as_written(self, pg_dsn: str) -> None:
        """PostgreSQL reads our tsvector literal back with the same lexemes and positions."""
        literal = tsvector_literal(["it''s", "a", "back\\slash", "a"])
        with psycopg.connect(pg_dsn) as db:
            (value,) = db.execute("SELECT %s::tsvector::text", (literal,)).fetchone()  # type: ignore[misc]
        assert value == "'a':2,4 'back\\\\slash':3 'it''''s':1"
