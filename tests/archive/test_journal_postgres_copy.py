"""The one-message append of PostgresJournal (archive/journal/postgres_copy.py) on a real server.

Runs when CHATKEEPER_TEST_PG_DSN is set; each test gets its own schema, dropped afterwards.
"""

from __future__ import annotations

from collections.abc import Iterator
from dataclasses import replace

import psycopg
import pytest

from archive.journal import postgres
from archive.journal.postgres import PostgresJournal
from archive.journal.postgres_copy import append_in_one_message, copy_data, encode_row
from archive.journal.sql_base import record_row
from tests.contract.journals import PG_DSN, STREAM
from tests.factories import slack_message

pytestmark = pytest.mark.skipif(not PG_DSN, reason="CHATKEEPER_TEST_PG_DSN is not set")


@pytest.fixture
def journal(pg_dsn: str) -> Iterator[PostgresJournal]:
    with PostgresJournal(pg_dsn) as j:
        yield j


def stored_rows(pg_dsn: str) -> list[tuple[object, ...]]:
    with psycopg.connect(pg_dsn) as conn:
        rows = conn.execute(
            "SELECT seq, key, platform, workspace, conversation, kind, occurred_at, captured_at, blobs, size, body FROM records ORDER BY seq"
        ).fetchall()
    return [(*row[:-1], bytes(row[-1])) for row in rows]


def test_rows_are_stored_as_psycopg_would_store_them(journal: PostgresJournal, pg_dsn: str) -> None:
    """Every column of every row, non-ASCII text and blob hashes included, is read back as sent."""
    records = [
        replace(slack_message(1), conversation_name="général ✓"),
        slack_message(2, text="naïve 東京 \U0001f600"),
        slack_message(3, text=""),
    ]
    seqs = journal.append(records)
    rows = [record_row(r) for r in records]
    assert stored_rows(pg_dsn) == [(seq, *row) for seq, row in zip(seqs, rows, strict=True)]


def test_copy_data_is_what_the_server_writes_in_binary_copy(pg_dsn: str) -> None:
    """The COPY data written here is byte for byte the server's own binary COPY of the rows."""
    rows = [record_row(slack_message(n, text="ü" * n)) for n in (1, 2)]
    with PostgresJournal(pg_dsn), psycopg.connect(pg_dsn) as conn:
        conn.cursor().executemany(
            "INSERT INTO records (seq, key, platform, workspace, conversation, kind, occurred_at, captured_at, blobs, size, body)"
            " VALUES (%s,%s,%s,%s,%s,%s,%s,%s,%s,%s,%s)",
            [(7, *rows[0]), (9, *rows[1])],
        )
        exported = b""
        with conn.cursor().copy(
            "COPY (SELECT seq, key, platform, workspace, conversation, kind, occurred_at, captured_at, blobs, size, body FROM records ORDER BY seq)"
            " TO STDOUT (FORMAT BINARY)"
        ) as copy:
            for block in copy:
                exported += bytes(block)
    assert copy_data([7, 9], [encode_row(row) for row in rows], 11) == exported


def test_a_batch_larger_than_the_send_buffer_goes_in_whole(journal: PostgresJournal) -> None:
    """Thousands of records in one append (megabytes of COPY data) are all stored, in order."""
    records = [slack_message(n, text="x" * 3000) for n in range(1, 3001)]
    seqs = journal.append(records)
    assert seqs == sorted(seqs) and len(set(seqs)) == 3000
    assert journal.stats(STREAM).records == 3000
    got = journal.get(records[-1].key)
    assert got is not None and got.seq == seqs[-1]


def test_a_failed_message_leaves_the_connection_usable(pg_dsn: str) -> None:
    """An error before the COPY, and a COPY the client aborts, store nothing and raise
    psycopg's error class; the connection then runs the next statement."""
    rows = [encode_row(record_row(slack_message(n))) for n in (1, 2)]
    with PostgresJournal(pg_dsn) as journal, psycopg.connect(pg_dsn, autocommit=True) as conn:
        missing = postgres._APPEND_DIRECT.format(sequence="no_such_sequence", count=2)
        with pytest.raises(psycopg.errors.UndefinedTable):
            append_in_one_message(conn, missing, rows, 11)
        conn.execute("ROLLBACK")
        short = postgres._APPEND_DIRECT.format(sequence=journal._sequence, count=1)
        with pytest.raises(psycopg.errors.QueryCanceled):  # one seq drawn for two rows
            append_in_one_message(conn, short, rows, 11)
        conn.execute("ROLLBACK")
        good = postgres._APPEND_DIRECT.format(sequence=journal._sequence, count=2)
        seqs = append_in_one_message(conn, good, rows, 11)
        assert len(seqs) == 2 and seqs[0] < seqs[1]
        assert conn.execute("SELECT count(*) FROM records").fetchone() == (2,)
