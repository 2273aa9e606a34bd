"""Slack workspace export zips into the journal: dedupe, zip-slip, absurd sizes."""

from __future__ import annotations

import json
import zipfile
from datetime import UTC, datetime
from pathlib import Path

import pytest

from archive.errors import SlackExportError
from archive.journal.sqlite import SqliteJournal
from archive.model import Source
from bots.slack.export_import import import_slack_export, safe_entry_name
from bots.slack.sandbox import envelope
from bots.slack.sandbox.payloads import plain
from tests.bots.slack.conftest import TEAM, Harness


def write_export(path: Path, extra: dict[str, bytes] | None = None) -> Path:
    """A small export: one public channel, one private, one DM, two days."""
    files = {
        "users.json": [
            {
                "id": "U0ALICE01",
                "team_id": TEAM,
                "name": "alice",
                "profile": {"display_name": "Alice", "email": "alice@example.com"},
            },
            {"id": "U0BOB0001", "team_id": TEAM, "name": "bob", "profile": {"real_name": "Bob"}},
        ],
        "channels.json": [
            {"id": "C0GENERAL", "name": "general", "created": 1764400000, "members": ["U0ALICE01"]}
        ],
        "groups.json": [
            {"id": "C0SECRET9", "name": "deal-room", "created": 1764400000, "is_private": True}
        ],
        "dms.json": [
            {"id": "D0ALICEBO", "created": 1764400000, "members": ["U0ALICE01", "U0BOB0001"]}
        ],
        "mpims.json": [],
        "general/2025-11-29.json": [
            plain(ts="1764410000.000100"),
            {
                "type": "message",
                "user": "U0BOB0001",
                "text": "reply",
                "ts": "1764410060.000200",
                "thread_ts": "1764410000.000100",
            },
        ],
        "general/2025-11-30.json": [
            {
                "type": "message",
                "subtype": "channel_join",
                "user": "U0BOB0001",
                "text": "joined",
                "ts": "1764496000.000100",
            }
        ],
        "deal-room/2025-11-29.json": [
            {"type": "message", "user": "U0ALICE01", "text": "price?", "ts": "1764410500.000100"}
        ],
        "D0ALICEBO/2025-11-29.json": [
            {"type": "message", "user": "U0ALICE01", "text": "dm", "ts": "1764410600.000100"}
        ],
    }
    with zipfile.ZipFile(path, "w", zipfile.ZIP_DEFLATED) as archive:
        for name, content in files.items():
            archive.writestr(name, json.dumps(content))
        for name, data in (extra or {}).items():
            archive.writestr(name, data)
    return path


def test_import_all_conversation_kinds(journal: SqliteJournal, tmp_path: Path) -> None:
    """Channels, private channels and DMs are imported with names, types, threads and actors."""
    summary = import_slack_export(journal, write_export(tmp_path / "export.zip"))
    assert (summary.conversations, summary.messages, summary.new, summary.duplicates) == (
        3,
        5,
        5,
        0,
    )
    records = {r.message_id: r for r in journal.iter_records()}
    assert {r.source for r in records.values()} == {Source.IMPORT_SLACK_EXPORT}
    reply = records["1764410060.000200"]
    assert reply.reply_to == "1764410000.000100" and reply.conversation == "C0GENERAL"
    assert records["1764410000.000100"].actor is not None
    assert records["1764410000.000100"].actor.email == "alice@example.com"
    assert records["1764410500.000100"].details["conversation_type"] == "private_channel"
    assert records["1764410600.000100"].conversation == "D0ALICEBO"
    assert records["1764496000.000100"].kind.value == "member_joined"


def test_import_twice_is_idempotent(journal: SqliteJournal, tmp_path: Path) -> None:
    """A second import of the same zip stores nothing new."""
    path = write_export(tmp_path / "export.zip")
    import_slack_export(journal, path)
    again = import_slack_export(journal, path)
    assert (again.new, again.duplicates) == (0, 5)
    assert len(list(journal.iter_records())) == 5


async def test_import_dedupes_against_live_capture(harness: Harness, tmp_path: Path) -> None:
    """A message captured live is not stored again when the export containing it is imported."""
    await harness.sender.event(envelope(TEAM, plain(ts="1764410000.000100")))
    summary = import_slack_export(harness.journal, write_export(tmp_path / "export.zip"))
    assert (summary.new, summary.duplicates) == (4, 1)
    sources = [
        r.source for r in harness.journal.iter_records() if r.message_id == "1764410000.000100"
    ]
    assert sources == [Source.EVENTS_API]


def test_zip_slip_entries_are_refused(journal: SqliteJournal, tmp_path: Path) -> None:
    """Entries named ../../etc/passwd, absolute or with control characters are refused, the rest imported."""
    hostile = {
        "../../etc/passwd": b"[]",
        "/abs/2025-11-29.json": b"[]",
        "general\\..\\x.json": b"[]",
        "gen\x01eral/2025-11-29.json": b"[]",
    }
    summary = import_slack_export(journal, write_export(tmp_path / "export.zip", hostile))
    assert len(summary.refused) == 4 and all("unsafe path" in r for r in summary.refused)
    assert summary.new == 5
    assert not (tmp_path.parent / "etc").exists()


@pytest.mark.parametrize("name", ["../x", "a/../../b", "/etc/passwd", "C:x", "a\\b", "ok\n", ""])
def test_safe_entry_name_refuses(name: str) -> None:
    """safe_entry_name rejects every name that could leave the archive root."""
    assert safe_entry_name(name) is None


def test_absurd_sizes_are_refused(journal: SqliteJournal, tmp_path: Path) -> None:
    """An entry over the per-entry limit (a zip bomb) stops the import before anything is stored."""
    bomb = {"general/2025-12-01.json": b"[" + b" " * 2_000_000 + b"]"}
    with pytest.raises(SlackExportError, match="larger than the import limit"):
        import_slack_export(
            journal, write_export(tmp_path / "bomb.zip", bomb), max_entry_bytes=1_000_000
        )
    assert list(journal.iter_records()) == []
    with pytest.raises(SlackExportError, match="import_max_total_bytes"):
        import_slack_export(journal, write_export(tmp_path / "export.zip"), max_total_bytes=500)


def test_not_a_zip(journal: SqliteJournal, tmp_path: Path) -> None:
    """A file that is not a zip fails with a clear error."""
    path = tmp_path / "export.zip"
    path.write_bytes(b"not a zip")
    with pytest.raises(SlackExportError, match="not a readable zip"):
        import_slack_export(journal, path)


def test_exported_files_are_queued_for_download(journal: SqliteJournal, tmp_path: Path) -> None:
    """A file in an export is a pending attachment with a fetch task carrying its Slack URL (no token)."""
    url = "https://files.slack.com/files-pri/T0SANDBOX-F0EXPORT1/download/report.pdf"
    shared = {
        "type": "message",
        "subtype": "file_share",
        "user": "U0ALICE01",
        "text": "",
        "ts": "1764420000.000100",
        "files": [
            {
                "id": "F0EXPORT1",
                "name": "report.pdf",
                "mimetype": "application/pdf",
                "size": 10,
                "url_private_download": url,
            }
        ],
    }
    extra = {"general/2025-12-02.json": json.dumps([shared]).encode()}
    path = write_export(tmp_path / "export.zip", extra)
    import_slack_export(journal, path)
    import_slack_export(journal, path)
    (task,) = journal.claim_fetches(datetime.now(UTC), 10)
    assert (task.ref, task.name, task.platform) == ("F0EXPORT1", "report.pdf", "slack")
    assert json.loads(task.details)["url"] == url and "xox" not in task.details


def test_broken_json_is_a_clear_error(journal: SqliteJournal, tmp_path: Path) -> None:
    """A day file that is not JSON stops the import with an SlackExportError naming the entry."""
    path = write_export(tmp_path / "export.zip", {"general/2025-12-03.json": b"[{not json"})
    with pytest.raises(SlackExportError, match=r"general/2025-12-03.json.*not valid JSON"):
        import_slack_export(journal, path)
