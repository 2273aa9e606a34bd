"""PostgreSQL-specific behaviour of PostgresJournal (the port contract is in tests/contract/).

Runs when CHATKEEPER_TEST_PG_DSN is set (.ci/run sets it); each test gets its
own schema, dropped afterwards.
"""

from __future__ import annotations

import threading
from collections.abc import Iterator
from dataclasses import replace

import psycopg
import pytest

from archive.errors import JournalError
from archive.journal.postgres import PostgresJournal
from archive.journal.postgres_schema import MIGRATIONS
from tests.contract.journals import PG_DSN, STREAM
from tests.factories import slack_message

pytestmark = pytest.mark.skipif(not PG_DSN, reason="CHATKEEPER_TEST_PG_DSN is not set")


@pytest.fixture
def journal(pg_dsn: str) -> Iterator[PostgresJournal]:
    with PostgresJournal(pg_dsn) as j:
        yield j


class TestPostgresJournal:
    def test_schema_version(self, journal: PostgresJournal) -> None:
        """Migrations are recorded in chatkeeper_schema."""
        assert journal.schema_version == len(MIGRATIONS)

    def test_two_replicas_share_one_journal(self, pg_dsn: str) -> None:
        """Two journal instances (replicas) append concurrently; every record is stored once."""
        with PostgresJournal(pg_dsn) as a, PostgresJournal(pg_dsn) as b:

            def work(j: PostgresJournal, base: int) -> None:
                for i in range(30):
                    j.append([slack_message(base + i), slack_message(i)])

            threads = [
                threading.Thread(target=work, args=(j, n * 1000)) for n, j in enumerate((a, b), 1)
            ]
            for t in threads:
                t.start()
            for t in threads:
                t.join()
            assert a.stats(STREAM).records == 90
            seqs = [r.seq for r in b.iter_records()]
            assert seqs == sorted(seqs) and len(set(seqs)) == 90


def test_failed_batch_rolls_back_and_the_writer_goes_on(journal: PostgresJournal) -> None:
    """A batch PostgreSQL refuses (a NUL in a text column) stores nothing; the next one commits."""
    first = journal.append([slack_message(1)])
    with pytest.raises(JournalError, match="nothing was stored"):
        journal.append([slack_message(2), slack_message(3, channel="C\x00BAD")])
    again = journal.append([slack_message(2), slack_message(1)])
    assert again[1] == first[0] and again[0] > first[0]
    assert [r.key for r in journal.iter_records()] == [
        slack_message(1).key,
        slack_message(2).key,
    ]
    assert journal.stats(STREAM).records == 2


def test_long_bodies_are_compressed_with_lz4_and_read_back_as_sent(
    journal: PostgresJournal, pg_dsn: str
) -> None:
    """A body too long to stay inline is stored lz4-compressed (where the server has lz4) and
    read back byte for byte; a short one is stored as it is."""
    words = " ".join(f"word{n % 97}" for n in range(600))  # a body of about 8 KB
    long, short = slack_message(1, text=words), slack_message(2)
    journal.append([long, short])
    with psycopg.connect(pg_dsn) as conn:
        methods = dict(
            conn.execute("SELECT key, pg_column_compression(body) FROM records").fetchall()
        )
        (supported,) = conn.execute(  # type: ignore[misc]
            "SELECT count(*) FROM pg_settings WHERE name = 'default_toast_compression'"
            " AND 'lz4' = ANY(enumvals)"
        ).fetchone()
    assert methods == {long.key: "lz4" if supported else "pglz", short.key: None}
    assert journal.get(long.key) == replace(long, seq=1)
    assert journal.get(short.key) == replace(short, seq=2)


def test_seal_from_postgres_journal(
    pg_dsn: str, store: object, signer: object, policy: object, clock: object
) -> None:
    """Records journaled in PostgreSQL seal into a verifiable stream on SeaweedFS."""
    from archive.seal import seal
    from archive.verify import verify_stream

    with PostgresJournal(pg_dsn) as journal:
        journal.append([slack_message(i) for i in range(75)])
        report = seal(journal, store, signer, policy, clock)  # type: ignore[arg-type]
        assert [b.record_count for b in report.bundles] == [50, 25]
        assert journal.stats(STREAM).unsealed == 0
    result = verify_stream(store, policy.layout, {signer.public.key_id: signer.public})  # type: ignore[arg-type, attr-defined]
    assert result.ok and result.records == 75
