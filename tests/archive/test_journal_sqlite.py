"""SQLite-specific behaviour of SqliteJournal (the port contract is in tests/contract/)."""

from __future__ import annotations

import sqlite3
from collections.abc import Iterator
from pathlib import Path

import pytest

from archive.errors import JournalError
from archive.journal.sqlite import SqliteJournal
from archive.journal.sqlite_schema import MIGRATIONS
from tests.contract.journals import STREAM
from tests.factories import slack_message


@pytest.fixture
def journal(tmp_path: Path) -> Iterator[SqliteJournal]:
    with SqliteJournal(tmp_path / "journal.db") as j:
        yield j


class TestSqliteJournal:
    def test_wal_and_full_sync(self, journal: SqliteJournal) -> None:
        """The journal runs in WAL mode with synchronous=FULL."""
        conn = sqlite3.connect(journal.path)
        assert conn.execute("PRAGMA journal_mode").fetchone()[0] == "wal"
        conn.close()
        assert journal._writer_conn.execute("PRAGMA synchronous").fetchone()[0] == 2

    def test_schema_version(self, journal: SqliteJournal) -> None:
        """Migrations are versioned with user_version."""
        assert journal.schema_version == len(MIGRATIONS)

    def test_survives_reopen(self, tmp_path: Path) -> None:
        """Records appended before close are there after reopening."""
        path = tmp_path / "j.db"
        with SqliteJournal(path) as j:
            j.append([slack_message(1)])
        with SqliteJournal(path) as j:
            assert j.get(slack_message(1).key) is not None
            assert j.stats(STREAM).records == 1

    def test_full_disk_fails_loudly(self, tmp_path: Path) -> None:
        """When the disk is full the append raises and nothing of the batch is kept."""
        path = tmp_path / "full.db"
        with SqliteJournal(path) as j:
            j.append([slack_message(0)])
            (pages,) = j._writer_conn.execute("PRAGMA page_count").fetchone()
            j._writer_conn.execute(f"PRAGMA max_page_count={pages + 1}")
            big = [slack_message(i, text="y" * 4000) for i in range(1, 40)]
            with pytest.raises(JournalError, match="full"):
                j.append(big)
            assert j.contains([r.key for r in big]) == set()
            assert j.stats(STREAM).records == 1

    def test_group_commits_count_committed_batches_only(self, tmp_path: Path) -> None:
        """group_commits counts each committed batch and its records; a failed one adds nothing."""
        with SqliteJournal(tmp_path / "counted.db") as j:
            j.append([slack_message(1), slack_message(2)])
            j.append([slack_message(3)])
            assert (j.group_commits.batches, j.group_commits.records) == (2, 3)
            assert j.group_commits.mean_batch == 1.5
            (pages,) = j._writer_conn.execute("PRAGMA page_count").fetchone()
            j._writer_conn.execute(f"PRAGMA max_page_count={pages + 1}")
            with pytest.raises(JournalError):
                j.append([slack_message(i, text="y" * 4000) for i in range(4, 40)])
            assert (j.group_commits.batches, j.group_commits.records) == (2, 3)

    def test_wal_is_cut_back_after_a_burst(
        self, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
    ) -> None:
        """After a burst grows the WAL, the next commit after a complete checkpoint shrinks it."""
        monkeypatch.setattr("archive.journal.sqlite.WAL_SIZE_LIMIT", 128 * 1024)
        path = tmp_path / "burst.db"
        wal = Path(f"{path}-wal")
        with SqliteJournal(path) as j:
            assert j._writer_conn.execute("PRAGMA journal_size_limit").fetchone()[0] == 128 * 1024
            for batch in range(60):
                j.append([slack_message(batch * 10 + i, text="z" * 2000) for i in range(10)])
            grown = wal.stat().st_size
            assert grown > 1024 * 1024
            j._checkpoint_conn.execute("PRAGMA wal_checkpoint(PASSIVE)")  # the background round
            j.append([slack_message(10_000)])  # restarts the WAL from its start
            assert wal.stat().st_size <= 128 * 1024 < grown
            assert j.stats(STREAM).records == 601
