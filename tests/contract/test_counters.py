"""Journal counters (records, backlog): exact under concurrent appends, reopen and migration."""

from __future__ import annotations

import sqlite3
import threading
from collections.abc import Callable, Iterator
from pathlib import Path

import psycopg
import pytest

from archive.journal import Journal
from archive.journal.postgres import PostgresJournal
from archive.journal.sql_base import INSERT_RECORD, record_row
from archive.journal.sqlite import SqliteJournal
from bots.telegram.completeness import journal_gaps
from tests.contract.journals import STREAM, open_next
from tests.factories import slack_message

Opener = Callable[[], Journal]


@pytest.fixture(params=["sqlite", "postgres"])
def opener(request: pytest.FixtureRequest, tmp_path: Path) -> Iterator[Opener]:
    """Opens another journal on one database, as a second replica or a restart would."""
    opened: list[Journal] = []

    def open_sqlite() -> Journal:
        opened.append(SqliteJournal(tmp_path / "journal.db"))
        return opened[-1]

    def open_postgres() -> Journal:
        opened.append(PostgresJournal(request.getfixturevalue("pg_dsn")))
        return opened[-1]

    yield open_sqlite if request.param == "sqlite" else open_postgres
    for journal in opened:
        journal.close()


def _as_version_1(journal: Journal) -> None:
    """Undo migration 2 in place: the journal as an older chatkeeper left it."""
    undo = [
        "DROP TABLE counters",
        "DROP INDEX bundles_seq_last",
        "DROP INDEX records_conversation",
    ]
    if isinstance(journal, SqliteJournal):
        undo += ["DROP TRIGGER records_counted", "DROP TRIGGER bundles_counted"]
        conn = sqlite3.connect(journal.path)
        for statement in undo:
            conn.execute(statement)
        conn.execute("PRAGMA user_version = 1")
        conn.commit()
        conn.close()
    else:
        assert isinstance(journal, PostgresJournal)
        undo += [
            "DROP FUNCTION chatkeeper_count_records CASCADE",
            "DROP FUNCTION chatkeeper_count_bundled CASCADE",
        ]
        with psycopg.connect(journal.dsn, autocommit=True) as conn:
            for statement in undo:
                conn.execute(statement)
            conn.execute("DELETE FROM chatkeeper_schema WHERE version > 1")


class TestCountersContract:
    def test_counts_are_exact_across_concurrent_replicas(self, opener: Opener) -> None:
        """Two journals on one database, appending overlapping keys from 8 threads, count exactly."""
        first, second = opener(), opener()

        def worker(n: int) -> None:
            journal = first if n % 2 else second
            for i in range(25):
                journal.append([slack_message(i * 3 + n), slack_message(i * 3 + n + 1)])

        threads = [threading.Thread(target=worker, args=(n,)) for n in range(8)]
        for thread in threads:
            thread.start()
        for thread in threads:
            thread.join()
        stored = len(list(first.iter_records()))
        assert stored == len({slack_message(i * 3 + n).key for i in range(25) for n in range(9)})
        assert first.stats(STREAM).records == second.stats(STREAM).records == stored
        assert first.stats(STREAM).unsealed == stored

    def test_backlog_follows_opened_bundles_and_reopen(self, opener: Opener) -> None:
        """Opening a bundle takes its records off the backlog; a restarted journal agrees."""
        journal = opener()
        journal.append([slack_message(i) for i in range(30)])
        bundle = open_next(journal, max_records=12)
        assert bundle is not None and bundle.record_count == 12
        journal.append([slack_message(i) for i in range(25, 40)])  # 5 duplicates
        stats = journal.stats(STREAM)
        assert (stats.records, stats.unsealed) == (40, 28)
        journal.close()
        again = opener().stats(STREAM)
        assert (again.records, again.unsealed) == (40, 28)

    def test_migration_counts_an_existing_journal(self, opener: Opener) -> None:
        """A journal written before the counters existed gets exact counts when it is migrated."""
        journal = opener()
        journal.append([slack_message(i) for i in range(20)])
        assert open_next(journal, max_records=7) is not None
        journal.close()
        _as_version_1(journal)
        migrated = opener()
        stats = migrated.stats(STREAM)
        assert (stats.records, stats.unsealed) == (20, 13)
        migrated.append([slack_message(i) for i in range(18, 24)])
        assert migrated.stats(STREAM).records == 24

    def test_rows_inserted_by_an_older_replica_are_counted(self, opener: Opener) -> None:
        """A record inserted by plain SQL (as an older replica during a rolling upgrade) counts."""
        journal = opener()
        journal.append([slack_message(1)])
        row = record_row(slack_message(2))
        if isinstance(journal, SqliteJournal):
            conn = sqlite3.connect(journal.path)
            conn.execute(INSERT_RECORD, row)
            conn.commit()
            conn.close()
        else:
            assert isinstance(journal, PostgresJournal)
            with psycopg.connect(journal.dsn, autocommit=True) as pg:
                pg.execute(INSERT_RECORD.replace("?", "%s"), row)
        stats = journal.stats(STREAM)
        assert (stats.records, stats.unsealed) == (2, 2)


class TestFindRecordsReadsOnlyMatches:
    def test_rows_outside_the_filter_are_never_decoded(self, opener: Opener) -> None:
        """An undecodable row in another conversation disturbs neither reconciliation's query nor Telegram's."""
        journal = opener()
        journal.append([slack_message(1), slack_message(2)])
        row = list(record_row(slack_message(3)))
        row[0], row[3], row[-1] = "unreadable-key", "C0OTHER", b"not json"
        if isinstance(journal, SqliteJournal):
            conn = sqlite3.connect(journal.path)
            conn.execute(INSERT_RECORD, row)
            conn.commit()
            conn.close()
        else:
            assert isinstance(journal, PostgresJournal)
            with psycopg.connect(journal.dsn, autocommit=True) as pg:
                pg.execute(INSERT_RECORD.replace("?", "%s"), row)
        found = list(journal.find_records("slack", conversation="C0123ABCD"))
        assert [r.key for r in found] == [slack_message(1).key, slack_message(2).key]
        assert journal_gaps(journal) == []
