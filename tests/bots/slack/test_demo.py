"""The Slack demo: fake Slack + real Bolt app over loopback, with the file stored on SeaweedFS."""

from __future__ import annotations

from archive.journal.sqlite import SqliteJournal
from archive.seal import SealPolicy
from archive.store.s3 import S3ArchiveStore
from bots.slack.sandbox.demo import run_slack_demo


async def test_demo_conversation_is_captured(
    journal: SqliteJournal, store: S3ArchiveStore, policy: SealPolicy
) -> None:
    """Every demo delivery is acked; the journal holds the admin action, edit, delete, reaction and stored file."""
    summary = await run_slack_demo(journal, store=store, layout=policy.layout, retention_days=1)
    assert summary.acked == summary.deliveries == 8
    assert summary.kinds == {
        "admin_action": 1,
        "monitoring_changed": 1,
        "message": 4,
        "edit": 1,
        "delete": 1,
        "reaction_added": 1,
        "attachment_stored": 1,
    }
    assert summary.attachments == ["stored"]
    assert summary.api_calls["conversations.join"] == 1
    assert len(summary.lines()) == 3


async def test_demo_twice_stores_nothing_twice(journal: SqliteJournal) -> None:
    """The demo uses fixed delivery ids, so a second run adds no record."""
    await run_slack_demo(journal)
    first = sum(1 for _ in journal.iter_records())
    again = await run_slack_demo(journal)
    assert again.acked == again.deliveries
    assert sum(1 for _ in journal.iter_records()) == first == 9
