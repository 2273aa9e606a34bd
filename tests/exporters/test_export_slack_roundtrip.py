"""The Slack export format read back by chatkeeper's own Slack importer gives the same messages."""

from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path

from archive.journal.sqlite import SqliteJournal
from archive.model import Kind
from bots.slack.export_import import import_slack_export
from exporters.filters import Filters
from exporters.fold import Message
from exporters.partition import PartitionStore
from tests.exporters.export_fixtures import TEAM, archive_records, run


@dataclass(frozen=True, order=True)
class Seen:
    """What a reader of the export sees of one message."""

    conversation: str
    message_id: str
    thread_id: str | None
    user: str | None
    name: str | None
    email: str | None
    text: str
    files: tuple[str, ...]


def _expected(directory: Path) -> list[Seen]:
    directory.mkdir()
    store = PartitionStore(directory)
    for record in archive_records():
        if record.platform.value == "slack":
            store.add(record, 1, True)
    store.finish()
    found = []
    for conversation in store.conversations():
        for number in store.slices(conversation):
            for item in store.items(conversation, number):
                if isinstance(item, Message):
                    actor = item.actor
                    found.append(
                        Seen(
                            conversation.conversation,
                            item.message_id,
                            item.thread_id,
                            actor.id if actor else None,
                            actor.name if actor else None,
                            actor.email if actor else None,
                            item.text,
                            tuple(a.name for a in item.attachments),
                        )
                    )
    store.close()
    return sorted(found)


def test_slack_export_round_trips_through_the_slack_importer(tmp_path: Path) -> None:
    """import_slack_export reads slack-export.zip back into the same messages, joins and leaves."""
    run("slack", tmp_path / "out", filters=Filters(platform="slack"))
    with SqliteJournal(tmp_path / "journal.db") as journal:
        summary = import_slack_export(journal, tmp_path / "out" / "slack-export.zip")
        assert summary.refused == []
        records = list(journal.iter_records())
    assert {r.workspace for r in records} == {TEAM}
    imported = sorted(
        Seen(
            r.conversation,
            r.message_id or "",
            r.thread_id,
            r.actor.id if r.actor else None,
            r.actor.name if r.actor else None,
            r.actor.email if r.actor else None,
            r.text or "",
            tuple(a.name for a in r.attachments),
        )
        for r in records
        if r.kind is Kind.MESSAGE
    )
    assert imported == _expected(tmp_path / "fold")
    memberships = sorted((r.kind.value, r.actor.id if r.actor else "") for r in records)
    assert [m for m in memberships if m[0] != "message"] == [
        ("member_joined", "U0BOB0001"),
        ("member_left", "U0CAROL01"),
    ]
