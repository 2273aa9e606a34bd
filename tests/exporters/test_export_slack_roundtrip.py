"""The Slack export format read back by chatkeeper's own Slack importer gives the same conversations."""

from __future__ import annotations

from collections.abc import Iterable
from dataclasses import dataclass
from pathlib import Path

from archive.journal.sqlite import SqliteJournal
from archive.model import Kind, Platform, Record
from bots.slack.export_import import import_slack_export
from exporters.fold import Message
from exporters.partition import PartitionStore
from tests.exporters.export_fixtures import ListBundleSource, run
from tests.exporters.export_workspace import OTHER_TEAM, workspace_records


@dataclass(frozen=True, order=True)
class Seen:
    """What a reader of the export sees of one message."""

    workspace: str
    conversation: str
    message_id: str
    parent_id: str | None  # a thread parent's own thread_ts is Slack's later addition
    user: str | None
    name: str | None
    email: str | None
    text: str
    files: tuple[str, ...]
    edits: tuple[tuple[str, str], ...]
    deleted: bool
    reactions: tuple[tuple[str, tuple[str, ...]], ...]
    pinned: bool


def _folded(directory: Path, records: Iterable[Record]) -> list[Seen]:
    directory.mkdir()
    store = PartitionStore(directory)
    for record in records:
        if record.platform is Platform.SLACK:
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
                            conversation.workspace,
                            conversation.conversation,
                            item.message_id,
                            item.parent_id,
                            actor.id if actor else None,
                            actor.name if actor else None,
                            actor.email if actor else None,
                            item.text,
                            tuple(a.name for a in item.attachments),
                            tuple((e.previous, e.new) for e in item.edits),
                            item.deleted,
                            tuple(
                                (name, tuple(sorted(a.id for a in actors)))
                                for name, actors in sorted(item.reactions.items())
                            ),
                            item.pinned,
                        )
                    )
    store.close()
    return sorted(found)


def test_slack_export_round_trips_through_the_slack_importer(tmp_path: Path) -> None:
    """Re-import gives the same messages per workspace, with edits, deletions, reactions, pins."""
    records = workspace_records()
    run("slack", tmp_path / "out", source=ListBundleSource(records))
    with SqliteJournal(tmp_path / "journal.db") as journal:
        summary = import_slack_export(journal, tmp_path / "out" / "slack-export.zip")
        assert summary.refused == []
        imported = list(journal.iter_records())
    assert {r.workspace for r in imported} == {"T0001", OTHER_TEAM}
    assert {r.conversation for r in imported if r.workspace == OTHER_TEAM} == {"C0PARTNER1"}
    assert _folded(tmp_path / "back", imported) == _folded(tmp_path / "fold", records)
    memberships = sorted(
        (r.conversation, r.kind.value, r.actor.id if r.actor else "")
        for r in imported
        if r.kind in (Kind.MEMBER_JOINED, Kind.MEMBER_LEFT)
    )
    assert memberships == [
        ("C0DEALS01", "member_joined", "U0BOB0001"),
        ("C0DEALS01", "member_left", "U0CAROL01"),
        ("C0PRIV0001", "member_joined", "U0CAROL01"),
    ]


def test_slack_reimport_skips_telegram_chats_with_a_message(tmp_path: Path) -> None:
    """A Telegram chat in a mixed export is reported and never becomes Slack records."""
    run("slack", tmp_path / "out", source=ListBundleSource(workspace_records()))
    with SqliteJournal(tmp_path / "journal.db") as journal:
        summary = import_slack_export(journal, tmp_path / "out" / "slack-export.zip")
        imported = list(journal.iter_records())
    assert summary.skipped == [
        "'Desk Chat 🇫🇷': a telegram conversation exported by chatkeeper, not a Slack one;"
        " not imported"
    ]
    assert "-1001234567890" not in {r.conversation for r in imported}
    assert all(r.platform is Platform.SLACK for r in imported)


def test_reimporting_twice_stores_every_record_once(tmp_path: Path) -> None:
    """History records have stable keys: a second import of the same export adds nothing."""
    run("slack", tmp_path / "out", source=ListBundleSource(workspace_records()))
    with SqliteJournal(tmp_path / "journal.db") as journal:
        first = import_slack_export(journal, tmp_path / "out" / "slack-export.zip")
        again = import_slack_export(journal, tmp_path / "out" / "slack-export.zip")
    assert first.new > 0
    assert (again.new, again.duplicates) == (0, first.new)
