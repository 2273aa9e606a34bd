"""The demo's capture-API sample carries the keys the Slack adapter gives the same events."""

from __future__ import annotations

import json
import zipfile
from pathlib import Path
from typing import Any

from archive.capture import capture
from archive.journal.sqlite import SqliteJournal
from archive.model import Record
from bots.slack.export_import import import_slack_export
from chatkeeper.demo import CHANNEL, CHANNEL_NAME, PEOPLE, TEAM, sample_conversation
from tests.bots.slack.conftest import Harness


def _export_of(records: list[Record], path: Path) -> Path:
    """The Slack export of the sample channel: current message versions, deletions gone."""
    messages: dict[str, dict[str, Any]] = {}
    for record in records:
        event = json.loads(record.raw)["event"]
        if event["type"] != "message":
            continue  # joins, reactions: not messages of the channel's history
        if event.get("subtype") == "message_changed":
            messages[event["message"]["ts"]] = event["message"]
        elif event.get("subtype") == "message_deleted":
            messages.pop(event["deleted_ts"], None)
        else:
            messages[event["ts"]] = {k: v for k, v in event.items() if k != "channel"}
    users = [
        {"id": a.id, "team_id": TEAM, "name": a.name, "profile": {"email": a.email}}
        for a in PEOPLE.values()
    ]
    with zipfile.ZipFile(path, "w") as archive:
        archive.writestr("users.json", json.dumps(users))
        archive.writestr("channels.json", json.dumps([{"id": CHANNEL, "name": CHANNEL_NAME}]))
        archive.writestr(f"{CHANNEL_NAME}/2026-11-02.json", json.dumps(list(messages.values())))
    return path


async def test_sample_keys_are_the_adapters_keys(harness: Harness) -> None:
    """Delivering the sample's exact bytes to the real Slack bot afterwards stores nothing new."""
    records = list(sample_conversation())
    await capture(harness.journal, records)
    for record in records:
        delivered = await harness.sender.post("/slack/events", record.raw)
        assert delivered.status == 200, delivered.body
    assert sorted(r.key for r in harness.journal.iter_records()) == sorted(r.key for r in records)


async def test_importing_the_equivalent_export_adds_nothing(
    journal: SqliteJournal, tmp_path: Path
) -> None:
    """A Slack export of the same channel imports as duplicates of the demo's sample."""
    records = list(sample_conversation())
    await capture(journal, records)
    summary = import_slack_export(journal, _export_of(records, tmp_path / "export.zip"))
    assert summary.messages == 5
    assert (summary.new, summary.duplicates) == (0, 5)
    assert sum(1 for _ in journal.iter_records()) == len(records) == 10
