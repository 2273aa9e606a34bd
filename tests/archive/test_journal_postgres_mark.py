"""The high-water mark of PostgresJournal: appends share the append lock, sealing never skips.

A record may commit late with a lower seq than records already visible (replicas append at
the same time). These tests hold a real append transaction open on a connection of their
own (its seq drawn, not committed: a replica paused before COMMIT) and check that bundles
and ``iter_records`` never include or pass that seq until it ends, that an aborted append's
gap is passed, and that two journals appending while a third seals lose nothing.

Runs when CHATKEEPER_TEST_PG_DSN is set. Each test gets a database of its own, so the
advisory locks (which are per database) of other sessions on the server do not meet ours.
"""

from __future__ import annotations

import threading
from collections.abc import Iterator
from concurrent.futures import Future, ThreadPoolExecutor
from datetime import timedelta
from typing import Any

import psycopg
import pytest

from archive.errors import JournalError
from archive.journal import BundleRow, postgres
from archive.journal.postgres import PostgresJournal
from archive.journal.sql_base import record_row
from archive.model import Record
from tests.contract.journals import PG_DSN, STREAM
from tests.factories import BASE_TIME, slack_message

pytestmark = pytest.mark.skipif(not PG_DSN, reason="CHATKEEPER_TEST_PG_DSN is not set")
APPEND_LOCK = postgres._LOCKS["append"]
DEADLOCK = 120  # seconds: only a hang (a lock never granted) reaches it


@pytest.fixture
def dsn(pg_database: str) -> str:
    """A fresh database of the test server (``pg_database``), dropped afterwards."""
    return pg_database


class HeldAppend:
    """An append transaction of another replica, paused after its INSERT, before COMMIT."""

    def __init__(self, dsn: str, record: Record) -> None:
        self.conn = psycopg.connect(dsn)
        self.conn.execute(postgres._STAGE)
        self.conn.execute("SELECT pg_advisory_xact_lock_shared(%s)", (APPEND_LOCK,))
        cursor = self.conn.cursor()
        with cursor.copy(postgres._COPY) as copy:
            copy.set_types(postgres._TYPES)
            copy.write_row(record_row(record))
        ((_, seq),) = cursor.execute(postgres._INSERT_MANY).fetchall()
        self.seq = int(seq)

    @classmethod
    def slow_replica(cls, dsn: str, records: list[Record]) -> list[int]:
        """Append ``records`` one transaction each, every one slow to commit."""
        seqs = []
        for record in records:
            held = cls(dsn, record)
            held.conn.execute("SELECT pg_sleep(0.02)")
            held.commit()
            seqs.append(held.seq)
        return seqs

    def commit(self) -> None:
        self.conn.commit()
        self.conn.close()

    def abort(self) -> None:
        self.conn.rollback()
        self.conn.close()


def open_next(journal: PostgresJournal, max_records: int = 1000) -> BundleRow | None:
    return journal.open_bundle(
        STREAM,
        max_records=max_records,
        max_bytes=1 << 30,
        created_at=BASE_TIME,
        retain_until=BASE_TIME + timedelta(days=1),
    )


def wait_until_mark_waits(dsn: str, reader: Future[Any]) -> None:
    """Block until a session of this database waits for the exclusive append lock.

    Returns early if ``reader`` finished without waiting, for the caller to assert on.
    """
    with psycopg.connect(dsn, autocommit=True) as conn:
        while not reader.done():
            row = conn.execute(
                "SELECT count(*) FROM pg_locks l JOIN pg_database d ON d.oid = l.database"
                " WHERE d.datname = current_database() AND l.locktype = 'advisory'"
                " AND l.objid = %s AND l.mode = 'ExclusiveLock' AND NOT l.granted",
                (APPEND_LOCK,),
            ).fetchone()
            if row and row[0]:
                return
            conn.execute("SELECT pg_sleep(0.02)")


def records_in(journal: PostgresJournal, first: int, last: int) -> list[int]:
    return [seq for seq, *_ in journal.row_source().rows(first, last)]


@pytest.fixture
def journal(dsn: str) -> Iterator[PostgresJournal]:
    with PostgresJournal(dsn) as j:
        yield j


def test_sequence_hands_out_one_value_at_a_time(journal: PostgresJournal, dsn: str) -> None:
    """The records sequence has no per-backend cache, which the mark relies on."""
    with psycopg.connect(dsn) as conn:
        (cache,) = conn.execute(  # type: ignore[misc]
            "SELECT cache_size FROM pg_sequences WHERE sequencename = 'records_seq_seq'"
        ).fetchone()
    assert cache == 1


def test_appends_do_not_wait_for_an_open_append(journal: PostgresJournal, dsn: str) -> None:
    """While another replica's append is open, appends here commit higher seqs at once."""
    journal.append([slack_message(1)])
    held = HeldAppend(dsn, slack_message(2))
    try:
        seqs = journal.submit([slack_message(3), slack_message(4)]).result(DEADLOCK)
        assert min(seqs) > held.seq
    finally:
        held.commit()
    assert [r.seq for r in journal.iter_records()] == [1, held.seq, *seqs]


def test_bundle_waits_for_an_open_append_and_then_contains_it(
    journal: PostgresJournal, dsn: str
) -> None:
    """open_bundle neither skips nor passes an open append's seq; once it commits, it is in."""
    journal.append([slack_message(1)])
    held = HeldAppend(dsn, slack_message(2))
    later = journal.append([slack_message(3), slack_message(4)])
    with ThreadPoolExecutor(1) as pool:
        opened: Future[BundleRow | None] = pool.submit(open_next, journal)
        wait_until_mark_waits(dsn, opened)
        assert not opened.done()
        # an append arriving now queues behind the mark, and commits once it is read
        queued = journal.submit([slack_message(5)])
        held.commit()
        bundle = opened.result(DEADLOCK)
        queued.result(DEADLOCK)
    assert bundle is not None
    assert (bundle.seq_first, bundle.seq_last) == (1, later[-1])
    assert bundle.record_count == 4
    assert records_in(journal, 1, later[-1]) == [1, held.seq, *later]
    rest = open_next(journal)
    assert rest is not None and rest.record_count == 1
    assert open_next(journal) is None


def wait_until_blocked(dsn: str, pid: int) -> None:
    """Block until backend ``pid`` waits for a lock (a row lock another session holds)."""
    with psycopg.connect(dsn, autocommit=True) as conn:
        for _ in range(DEADLOCK * 50):
            row = conn.execute(
                "SELECT wait_event_type FROM pg_stat_activity WHERE pid = %s", (pid,)
            ).fetchone()
            if row and row[0] == "Lock":
                return
            conn.execute("SELECT pg_sleep(0.02)")
    raise AssertionError(f"backend {pid} never waited for a lock")


def test_bundle_waits_for_a_direct_append_whose_seqs_are_drawn(
    journal: PostgresJournal, dsn: str
) -> None:
    """The journal's own append, paused after drawing its seqs and copying its rows, holds
    the mark back: a bundle opened meanwhile waits, then contains the record."""
    first = journal.append([slack_message(1)])
    writer = journal._writer_conn.info.backend_pid
    with PostgresJournal(dsn) as sealer, psycopg.connect(dsn) as blocker:
        # the counter trigger of the next append waits on this row lock, before COMMIT
        blocker.execute(
            "SELECT value FROM counters WHERE name = 'records' AND shard = %s FOR UPDATE",
            (writer % 64,),
        )
        appended = journal.submit([slack_message(2)])
        wait_until_blocked(dsn, writer)
        with ThreadPoolExecutor(1) as pool:
            opened: Future[BundleRow | None] = pool.submit(open_next, sealer)
            wait_until_mark_waits(dsn, opened)
            assert not opened.done() and not appended.done()
            blocker.commit()
            bundle = opened.result(DEADLOCK)
        (seq,) = appended.result(DEADLOCK)
    assert seq > first[0]
    assert bundle is not None
    assert (bundle.seq_first, bundle.seq_last, bundle.record_count) == (first[0], seq, 2)
    assert records_in(journal, first[0], seq) == [first[0], seq]


def test_redelivery_in_a_batch_leaves_gaps_that_bundles_pass(journal: PostgresJournal) -> None:
    """A batch holding a stored key goes in through the stage table; the seqs its direct
    attempt drew stay unused, and the bundle covers the records without them."""
    (first,) = journal.append([slack_message(1)])
    again, new = journal.append([slack_message(1), slack_message(2)])
    assert again == first and new > first + 1  # the direct attempt's two seqs are gaps
    bundle = open_next(journal)
    assert bundle is not None
    assert (bundle.seq_first, bundle.seq_last, bundle.record_count) == (first, new, 2)
    assert records_in(journal, first, new) == [first, new]


def test_aborted_append_leaves_a_gap_that_bundles_pass(journal: PostgresJournal, dsn: str) -> None:
    """An append that rolls back leaves its seq unused; the bundle passes over it."""
    first = journal.append([slack_message(1)])
    held = HeldAppend(dsn, slack_message(2))
    later = journal.append([slack_message(3)])
    with ThreadPoolExecutor(1) as pool:
        opened: Future[BundleRow | None] = pool.submit(open_next, journal)
        wait_until_mark_waits(dsn, opened)
        assert not opened.done()
        held.abort()
        bundle = opened.result(DEADLOCK)
    assert bundle is not None
    assert bundle.record_count == 2
    assert (bundle.seq_first, bundle.seq_last) == (first[0], later[0])
    assert held.seq not in [r.seq for r in journal.iter_records()]
    journal.append([slack_message(2)])
    following = open_next(journal)
    assert following is not None and following.record_count == 1


def test_mark_times_out_instead_of_holding_capture_up(
    journal: PostgresJournal, dsn: str, monkeypatch: pytest.MonkeyPatch
) -> None:
    """An append open past the lock timeout fails the seal step, not capture; nothing is opened."""
    monkeypatch.setattr(postgres, "MARK_LOCK_TIMEOUT", "200ms")
    journal.append([slack_message(1)])
    held = HeldAppend(dsn, slack_message(2))
    try:
        with pytest.raises(JournalError, match="high-water mark"):
            open_next(journal)
        assert journal.bundles(STREAM) == []
        assert journal.append([slack_message(3)])  # the lock was not left behind
    finally:
        held.commit()
    bundle = open_next(journal)
    assert bundle is not None and bundle.record_count == 3


def test_iter_records_stops_at_the_mark(journal: PostgresJournal, dsn: str) -> None:
    """iter_records never yields a seq above one that may still commit."""
    journal.append([slack_message(1)])
    held = HeldAppend(dsn, slack_message(2))
    journal.append([slack_message(3)])
    with ThreadPoolExecutor(1) as pool:
        listed: Future[list[int]] = pool.submit(
            lambda: [r.seq or 0 for r in journal.iter_records()]
        )
        wait_until_mark_waits(dsn, listed)
        assert not listed.done()
        held.commit()
        seqs = listed.result(DEADLOCK)
    assert seqs == [1, 2, 3]


def test_two_journals_appending_while_a_third_seals_lose_nothing(dsn: str) -> None:
    """Two journals and a replica slow to commit append while a third journal seals.

    The bundles cover every committed record exactly once, and no record commits into the
    seq range of a bundle already opened.
    """
    threads_per_journal, rounds = 4, 20
    with (
        PostgresJournal(dsn) as a,
        PostgresJournal(dsn) as b,
        PostgresJournal(dsn) as sealer,
    ):
        done, slow_done = threading.Event(), threading.Event()
        bundles: list[BundleRow] = []

        def seal_loop() -> None:
            while not done.is_set():
                row = open_next(sealer, max_records=100)
                if row is not None:
                    bundles.append(row)

        def append_loop(journal: PostgresJournal, base: int) -> list[int]:
            seqs: list[int] = []
            i = 0
            while i < rounds or not slow_done.is_set():  # overlap the slow replica throughout
                seqs += journal.append(
                    [slack_message(base + 2 * i), slack_message(base + 2 * i + 1)]
                )
                i += 1
            return seqs

        def slow_replica() -> list[int]:
            try:
                return HeldAppend.slow_replica(dsn, slow)
            finally:
                slow_done.set()

        slow = [slack_message(900_000 + i) for i in range(rounds)]
        with ThreadPoolExecutor(2 + 2 * threads_per_journal) as pool:
            sealing = pool.submit(seal_loop)
            appends = [
                pool.submit(append_loop, journal, (n + 1) * 10_000)
                for n, journal in enumerate([a, b] * threads_per_journal)
            ]
            appends.append(pool.submit(slow_replica))
            committed = sorted(seq for f in appends for seq in f.result(DEADLOCK))
            done.set()
            sealing.result(DEADLOCK)
        while (row := open_next(sealer, max_records=100)) is not None:
            bundles.append(row)
        assert len(committed) == len(set(committed)) >= (4 * threads_per_journal + 1) * rounds
        covered: list[int] = []
        previous_last = 0
        for row in bundles:
            assert row.seq_first > previous_last
            inside = records_in(sealer, row.seq_first, row.seq_last)
            # a record that committed into a range after it was opened would show here
            assert len(inside) == row.record_count
            covered += inside
            previous_last = row.seq_last
        assert covered == committed
        assert sealer.stats(STREAM).unsealed == 0
