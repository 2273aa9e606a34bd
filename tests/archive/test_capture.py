"""capture() from an event loop: the captures of one loop turn commit and wake together."""

from __future__ import annotations

import asyncio
import dataclasses
import gc
import weakref
from collections.abc import Iterator
from pathlib import Path

import pytest

from archive.capture import capture
from archive.errors import JournalError
from archive.journal.sqlite import SqliteJournal
from tests.contract.journals import STREAM
from tests.factories import slack_message


@pytest.fixture
def journal(tmp_path: Path) -> Iterator[SqliteJournal]:
    with SqliteJournal(tmp_path / "journal.db") as j:
        yield j


async def test_concurrent_writers_get_their_own_seqs_exactly_once(journal: SqliteJournal) -> None:
    """64 coroutines capturing one record at a time each get the seq their record was stored under."""
    returned: dict[str, int] = {}

    async def writer(w: int) -> None:
        for i in range(5):
            record = slack_message(w * 100 + i)
            (seq,) = await capture(journal, [record])
            returned[record.key] = seq

    await asyncio.gather(*(writer(w) for w in range(64)))
    assert len(returned) == 320 and len(set(returned.values())) == 320
    stored = {r.key: r.seq for r in journal.iter_records()}
    assert stored == returned
    assert journal.stats(STREAM).records == 320
    assert journal.group_commits.records == 320


async def test_captures_of_one_loop_turn_are_one_group_commit(journal: SqliteJournal) -> None:
    """Captures started in the same loop turn reach the journal as one batch, in call order."""
    records = [slack_message(i) for i in range(64)]
    seqs = await asyncio.gather(*(capture(journal, [r]) for r in records))
    assert journal.group_commits.batches == 1 and journal.group_commits.records == 64
    assert [s for (s,) in seqs] == sorted(s for (s,) in seqs)


async def test_failed_commit_fails_every_capture_of_the_batch(journal: SqliteJournal) -> None:
    """When the batch's commit fails (disk full), every capture in it raises and nothing is stored."""
    await capture(journal, [slack_message(0)])
    (pages,) = journal._writer_conn.execute("PRAGMA page_count").fetchone()
    journal._writer_conn.execute(f"PRAGMA max_page_count={pages + 1}")
    big = [slack_message(i, text="y" * 4000) for i in range(1, 33)]
    results = await asyncio.gather(*(capture(journal, [r]) for r in big), return_exceptions=True)
    assert all(isinstance(r, JournalError) and "full" in str(r) for r in results)
    assert journal.contains([r.key for r in big]) == set()
    assert journal.stats(STREAM).records == 1
    journal._writer_conn.execute("PRAGMA max_page_count=1073741823")
    retried = await asyncio.gather(*(capture(journal, [r]) for r in big))
    assert len({s for (s,) in retried}) == 32
    assert journal.stats(STREAM).records == 33


async def test_unserializable_record_fails_only_its_own_capture(journal: SqliteJournal) -> None:
    """A record that cannot be encoded fails its capture; the others of the same turn are stored."""
    bad = dataclasses.replace(slack_message(99), details={"not json": {1, 2}})
    good = [slack_message(i) for i in range(8)]
    results = await asyncio.gather(
        *(capture(journal, [r]) for r in [*good[:4], bad, *good[4:]]), return_exceptions=True
    )
    assert isinstance(results[4], JournalError) and "serialized" in str(results[4])
    assert all(isinstance(r, list) for i, r in enumerate(results) if i != 4)
    assert journal.contains([r.key for r in [*good, bad]]) == {r.key for r in good}


async def test_same_record_twice_in_one_turn_is_stored_once(journal: SqliteJournal) -> None:
    """Two deliveries of one event in the same loop turn share one seq and one stored record."""
    first, again, other = await asyncio.gather(
        capture(journal, [slack_message(1)]),
        capture(journal, [slack_message(1)]),
        capture(journal, [slack_message(2), slack_message(1)]),
    )
    assert first == again == other[1:]
    assert other[0] != first[0]
    assert journal.stats(STREAM).records == 2


async def test_cancelled_capture_leaves_the_others_of_its_batch_alone(
    journal: SqliteJournal,
) -> None:
    """A capture cancelled while its batch commits does not disturb the other captures."""
    tasks = [asyncio.create_task(capture(journal, [slack_message(i)])) for i in range(16)]
    await asyncio.sleep(0)  # every task has handed its record to the loop turn's batch
    tasks[3].cancel()
    done = await asyncio.gather(*tasks, return_exceptions=True)
    assert isinstance(done[3], asyncio.CancelledError)
    assert len({seqs[0] for i, seqs in enumerate(done) if i != 3 and isinstance(seqs, list)}) == 15
    assert journal.contains([slack_message(i).key for i in range(16) if i != 3]) == {
        slack_message(i).key for i in range(16) if i != 3
    }


def test_finished_event_loops_are_not_kept_alive(journal: SqliteJournal) -> None:
    """Event loops that captured and closed can be collected: capture keeps no state alive per loop."""
    loops = []
    for i in range(4):
        loop = asyncio.new_event_loop()
        assert loop.run_until_complete(capture(journal, [slack_message(i)])) == [i + 1]
        loop.close()
        loops.append(weakref.ref(loop))
    del loop
    gc.collect()
    # The writer thread holds on to its latest batch (and so the last loop) until the next one.
    assert [ref() for ref in loops[:3]] == [None, None, None]
