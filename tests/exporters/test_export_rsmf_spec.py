"""RSMF files checked against Relativity's specification: headers, participants, body, references."""

from __future__ import annotations

from pathlib import Path

from exporters.formats.mail_headers import split_items
from tests.exporters.export_fixtures import LONG_TEXT, ListBundleSource, run
from tests.exporters.export_workspace import DANA, workspace_records
from tests.exporters.rsmf_spec import body_text, manifest_of, parsed, problems, raw_headers


def _files(out: Path) -> list[Path]:
    return sorted((out / "rsmf").rglob("*.rsmf"))


def test_every_rsmf_of_a_multi_language_archive_has_no_warnings(tmp_path: Path) -> None:
    """Arabic, Hebrew, Swedish and "Last, First" names: no rule of the specification is broken."""
    run("rsmf", tmp_path, source=ListBundleSource(workspace_records()))
    files = _files(tmp_path)
    assert len(files) == 8
    assert {path.name: problems(path) for path in files} == {path.name: [] for path in files}


def test_participants_header_is_utf8_and_splits_back_into_display_names(tmp_path: Path) -> None:
    """Non-ASCII names are plain UTF-8; a name with a comma is quoted and splits back whole."""
    run("rsmf", tmp_path, source=ListBundleSource(workspace_records()))
    rsmf = tmp_path / "rsmf"
    deals = raw_headers((rsmf / "slack-T0001-C0DEALS01" / "2026-11-02.rsmf").read_bytes())
    assert split_items(deals["X-RSMF-Participants"]) == [
        "Dana Admin",
        "Bob Åkesson",
        "Alice Moreau",
        "كارول",
    ]
    assert "=?" not in deals["X-RSMF-Participants"]
    partners = raw_headers((rsmf / "slack-T0002-C0PARTNER1" / "2026-11-02.rsmf").read_bytes())
    assert partners["X-RSMF-Participants"] == '"Moreau, Dana"'
    assert split_items(partners["X-RSMF-Participants"]) == [DANA.name]


def test_rsmf_body_is_the_conversation_in_order(tmp_path: Path) -> None:
    """The text part holds participants, times and every message, in order, for extracted text."""
    run("rsmf", tmp_path)
    path = tmp_path / "rsmf" / "slack-T0001-C0DEALS01" / "2026-11-02.rsmf"
    message = parsed(path)
    text = body_text(message)
    manifest, _ = manifest_of(message)
    bodies = [e["body"] for e in manifest["events"] if e["type"] == "message"]
    positions = [text.index(body) for body in bodies]
    assert positions == sorted(positions)
    assert "Participants: Dana Admin, Bob Åkesson, Alice Moreau, كارول" in text
    assert "2026-11-02 09:02:00 UTC  Alice Moreau\nMorning all 👋 — term sheet v3 attached" in text
    assert "(deleted by Bob Åkesson at 2026-11-02 09:10:00 UTC; last text above)" in text
    assert "(reaction thumbsup by Alice Moreau, كارول)" in text
    assert "(attachment: term-sheet v3.pdf)" in text
    assert "2026-11-02 09:01:00 UTC  Bob Åkesson joined" in text
    assert LONG_TEXT in text
