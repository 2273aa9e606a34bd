"""The Slack export read back by slack-export-viewer, the tool reviewers open Slack exports with."""

from __future__ import annotations

import json
import zipfile
from pathlib import Path
from typing import Any

from slackviewer.app import app
from slackviewer.config import Config
from slackviewer.main import configure_app
from slackviewer.reader import Reader

from tests.exporters.export_fixtures import ALICE, CAROL, COMBINING, DM, ListBundleSource, run
from tests.exporters.export_workspace import MPIM_NAME, PRIVATE, workspace_records


def _export(tmp_path: Path) -> Path:
    """Export the workspace archive and unpack it as the viewer does."""
    run("slack", tmp_path / "out", source=ListBundleSource(workspace_records()))
    folder = tmp_path / "workspace"
    with zipfile.ZipFile(tmp_path / "out" / "slack-export.zip") as archive:
        archive.extractall(folder)
    return folder


def _config(folder: Path) -> Config:
    return Config(
        {
            "archive": str(folder),
            "debug": False,
            "show_dms": True,
            "since": None,
            "skip_channel_member_change": False,
            "thread_note": False,
            "filter_user": None,
            "channels": None,
            "hide_channels": None,
            "no_sidebar": False,
            "no_external_references": True,
        }
    )


def _page(folder: Path, path: str) -> str:
    configure_app(app, _config(folder))
    response = app.test_client().get(path)
    assert response.status_code == 200, path
    return response.get_data(as_text=True)


def _texts(messages: list[Any]) -> list[tuple[bool, str]]:
    return [(m.is_thread_msg, m._message.get("text", "")) for m in messages]


def test_viewer_nests_thread_replies_under_their_parent(tmp_path: Path) -> None:
    """Replies, including one posted a day later, appear as thread replies right after the parent."""
    reader = Reader(_config(_export(tmp_path)))
    deals = _texts(reader.compile_channels()["deals"])
    start = deals.index((False, "Price is 101.25, firm until noon"))
    assert deals[start + 1 : start + 4] == [
        (True, "مرحبا، السعر جيد"),
        (True, COMBINING),
        (True, "Following up on yesterday's price"),
    ]
    assert sum(1 for reply, _ in deals if reply) == 3
    private = _texts(reader.compile_groups()["m-and-a"])
    assert (True, "Keep it quiet until Friday") in private


def test_viewer_lists_private_channels_group_dms_and_dms_apart_from_channels(
    tmp_path: Path,
) -> None:
    """Only public channels are channels; the private channel, the group DM and the DM are not."""
    folder = _export(tmp_path)
    reader = Reader(_config(folder))
    assert sorted(reader.compile_channels()) == ["deals", "partners"]  # quiet-room: no messages
    assert sorted(reader.compile_groups()) == ["Desk Chat 🇫🇷", "m-and-a"]
    assert [m._message["text"] for m in reader.compile_mpim_messages()[MPIM_NAME]] == ["lunch?"]
    dms = reader.compile_dm_messages()
    assert [m._message["text"] for m in dms[DM]] == [
        "can you check the chart? 📈",
        "looks right ✅",
    ]
    groups = {g["id"]: g for g in json.loads((folder / "groups.json").read_text("utf-8"))}
    assert groups[PRIVATE]["is_private"] is True
    channels = json.loads((folder / "channels.json").read_text("utf-8"))
    assert sorted(c["name"] for c in channels) == ["deals", "partners", "quiet-room"]
    page = _page(folder, "/group/m-and-a/")
    assert "Target is ACME" in page
    assert "/channel/m-and-a/" not in page


def test_viewer_shows_deletions_and_edits(tmp_path: Path) -> None:
    """A deleted message keeps its text with a deletion marker; an edited one says so."""
    page = _page(_export(tmp_path), "/channel/deals/")
    assert "Call me on my personal phone instead" in page
    assert "Deleted by Bob Åkesson at 2026-11-02 09:10:00 UTC" in page
    assert "Edited 2 times, last by Alice Moreau at 2026-11-02 09:15:00 UTC" in page


def test_members_archive_state_and_pins_come_from_their_records(tmp_path: Path) -> None:
    """Members include who joined without posting; archive state and pins are Slack's own."""
    folder = _export(tmp_path)
    channels = {c["id"]: c for c in json.loads((folder / "channels.json").read_text("utf-8"))}
    assert channels["C0DEALS01"]["is_archived"] is True
    assert channels["C0QUIET01"]["is_archived"] is False
    assert CAROL.id not in channels["C0DEALS01"]["members"]  # she left
    groups = {g["id"]: g for g in json.loads((folder / "groups.json").read_text("utf-8"))}
    assert CAROL.id in groups[PRIVATE]["members"]  # joined, never posted
    day = json.loads((folder / "m-and-a" / "2026-11-02.json").read_text("utf-8"))
    [pin] = [m for m in day if m.get("subtype") == "pinned_item"]
    assert (pin["user"], pin["text"]) == (
        ALICE.id,
        f"<@{ALICE.id}> pinned a message to this channel.",
    )
    deals = json.loads((folder / "deals" / "2026-11-03.json").read_text("utf-8"))
    [archived] = [m for m in deals if m.get("subtype") == "channel_archive"]
    assert archived["text"] == "<@U0ADMIN01> archived the channel"
