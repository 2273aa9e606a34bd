"""The journal adapters every contract suite runs against: SQLite and PostgreSQL.

The PostgreSQL adapter runs when CHATKEEPER_TEST_PG_DSN is set (.ci/run sets
it); each test gets its own schema, dropped afterwards.
"""

from __future__ import annotations

import os
import secrets
from collections.abc import Iterator
from datetime import timedelta
from pathlib import Path

import psycopg
import pytest
from psycopg.conninfo import make_conninfo

from archive.journal import BundleBook, BundleRow, Journal
from archive.journal.postgres import PostgresJournal
from archive.journal.sqlite import SqliteJournal
from tests.factories import BASE_TIME

STREAM = "contract"
PG_DSN = os.environ.get("CHATKEEPER_TEST_PG_DSN", "")


@pytest.fixture
def pg_dsn() -> Iterator[str]:
    """A DSN whose search_path is a fresh schema of the test PostgreSQL."""
    if not PG_DSN:
        pytest.skip("CHATKEEPER_TEST_PG_DSN is not set")
    schema = f"ck_test_{secrets.token_hex(6)}"
    with psycopg.connect(PG_DSN, autocommit=True) as admin:
        admin.execute(f"CREATE SCHEMA {schema}")
        try:
            yield make_conninfo(PG_DSN, options=f"-csearch_path={schema}")
        finally:
            admin.execute(f"DROP SCHEMA {schema} CASCADE")


@pytest.fixture
def pg_database() -> Iterator[str]:
    """A DSN of a fresh, uniquely named database of the test PostgreSQL, dropped afterwards
    (advisory locks are per database: other sessions on the server never meet the test's)."""
    if not PG_DSN:
        pytest.skip("CHATKEEPER_TEST_PG_DSN is not set")
    name = f"ck_db_{secrets.token_hex(6)}"
    with psycopg.connect(PG_DSN, autocommit=True) as admin:
        admin.execute(f"CREATE DATABASE {name}")
    try:
        yield make_conninfo(PG_DSN, dbname=name)
    finally:
        with psycopg.connect(PG_DSN, autocommit=True) as admin:
            admin.execute(f"DROP DATABASE IF EXISTS {name} WITH (FORCE)")


@pytest.fixture(params=["sqlite", "postgres"])
def journal(request: pytest.FixtureRequest, tmp_path: Path) -> Iterator[Journal]:
    """Each adapter in turn, fresh and empty."""
    if request.param == "sqlite":
        with SqliteJournal(tmp_path / "journal.db") as sqlite:
            yield sqlite
    else:
        with PostgresJournal(request.getfixturevalue("pg_dsn")) as postgres:
            yield postgres


def open_next(
    book: BundleBook, max_records: int = 1000, max_bytes: int = 1 << 30
) -> BundleRow | None:
    """Open the next bundle of ``STREAM`` with generous limits."""
    return book.open_bundle(
        STREAM,
        max_records=max_records,
        max_bytes=max_bytes,
        created_at=BASE_TIME,
        retain_until=BASE_TIME + timedelta(days=1),
    )
