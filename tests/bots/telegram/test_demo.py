"""The sandbox demo: the real bot captures a group conversation from the fake Bot API."""

from __future__ import annotations

import pytest

from archive.clock import FixedClock
from archive.journal.sqlite import SqliteJournal
from archive.seal import SealPolicy
from archive.store.s3 import S3ArchiveStore
from bots.telegram.sandbox.demo import run_telegram_demo


@pytest.mark.parametrize("mode", ["webhook", "polling"])
async def test_demo_captures_the_conversation(
    journal: SqliteJournal,
    store: S3ArchiveStore,
    policy: SealPolicy,
    clock: FixedClock,
    mode: str,
) -> None:
    """An admin turns archiving on; the edit, photo (stored) and reaction are all journaled."""
    summary = await run_telegram_demo(
        journal, mode=mode, store=store, layout=policy.layout, clock=clock
    )
    assert summary.updates_sent == 6
    assert summary.monitored
    assert summary.by_kind == {
        "admin_action": 1,
        "monitoring_changed": 1,
        "message": 3,
        "edit": 1,
        "reaction_added": 1,
        "attachment_stored": 1,
    }
    assert summary.attachments == {"stored": 1}
    assert summary.replies[0].startswith("Archiving is on")
    assert summary.records == sum(1 for _ in journal.iter_records())


async def test_demo_twice_stores_nothing_twice(journal: SqliteJournal, clock: FixedClock) -> None:
    """A second run over the same journal adds no record: the admin does not repeat /archive_on."""
    first = await run_telegram_demo(journal, clock=clock)
    again = await run_telegram_demo(journal, clock=clock)
    assert again.records == 0 and again.monitored
    assert again.updates_sent == first.updates_sent - 1
    assert sum(1 for _ in journal.iter_records()) == first.records
