"""What a Slack export import carried (reactions with who, the edited marker, bot names) reaches
every export format."""

from __future__ import annotations

import csv
import io
import json
import zipfile
from email import policy
from email.parser import BytesParser
from pathlib import Path

from archive.journal.sqlite import SqliteJournal
from archive.model import Kind, Record
from bots.slack.export_import import import_slack_export
from tests.exporters.export_fixtures import ListBundleSource, run
from tests.exporters.rsmf_spec import manifest_of, parsed, problems

TEAM = "T0IMPORT1"
USERS = [
    {"id": "U0ALICE01", "team_id": TEAM, "name": "alice", "profile": {"real_name": "Alice"}},
    {"id": "U0BOB0001", "team_id": TEAM, "name": "bob", "profile": {"real_name": "Bob"}},
]
DAY = [
    {
        "type": "message",
        "user": "U0ALICE01",
        "text": "final price 99",
        "ts": "1764410000.000100",
        "edited": {"user": "U0ALICE01", "ts": "1764410300.000000"},
        "reactions": [{"name": "thumbsup", "users": ["U0BOB0001", "U0ALICE01"], "count": 2}],
    },
    {
        "type": "message",
        "subtype": "bot_message",
        "bot_id": "B0ALERTS1",
        "username": "Price Alerts",
        "text": "price moved",
        "ts": "1764410100.000100",
    },
]


def _imported(tmp_path: Path) -> list[Record]:
    path = tmp_path / "slack.zip"
    with zipfile.ZipFile(path, "w") as archive:
        archive.writestr("users.json", json.dumps(USERS))
        archive.writestr("channels.json", json.dumps([{"id": "C0DESK001", "name": "desk"}]))
        archive.writestr("desk/2025-11-29.json", json.dumps(DAY))
    with SqliteJournal(tmp_path / "journal.db") as journal:
        import_slack_export(journal, path)
        return list(journal.iter_records())


def _export(fmt: str, tmp_path: Path) -> Path:
    out = tmp_path / fmt
    run(fmt, out, source=ListBundleSource(_imported(tmp_path / f"j-{fmt}")))
    return out


def _mkdir(path: Path) -> Path:
    path.mkdir(parents=True, exist_ok=True)
    return path


def test_import_keeps_reactions_with_who_and_the_edit_marker(tmp_path: Path) -> None:
    """The journal holds one reaction record per person and the message's edited time."""
    records = _imported(_mkdir(tmp_path / "j"))
    reactions = sorted(r.actor.id for r in records if r.kind is Kind.REACTION_ADDED and r.actor)
    assert reactions == ["U0ALICE01", "U0BOB0001"]
    [message] = [r for r in records if r.text == "final price 99"]
    assert message.details["edited_ts"] == "1764410300.000000"
    [bot] = [r for r in records if r.text == "price moved"]
    assert bot.actor is not None and bot.actor.name == "Price Alerts"


def test_rsmf_eml_html_slack_csv_and_jsonl_show_them(tmp_path: Path) -> None:
    """Every format shows who reacted and that the message was edited."""
    _mkdir(tmp_path / "j-rsmf")
    [path] = (_export("rsmf", tmp_path) / "rsmf").rglob("*.rsmf")
    assert problems(path) == []
    manifest, _ = manifest_of(parsed(path))
    [event] = [e for e in manifest["events"] if e.get("body") == "final price 99"]
    assert event["reactions"] == [
        {"value": "thumbsup", "count": 2, "participants": ["U0BOB0001", "U0ALICE01"]}
    ]
    assert event["edits"] == [
        {"participant": "U0ALICE01", "timestamp": "2025-11-29T09:58:20.000000Z"}
    ]
    _mkdir(tmp_path / "j-eml")
    mails = [
        BytesParser(policy=policy.strict).parsebytes(p.read_bytes())
        for p in (_export("eml", tmp_path) / "eml").rglob("*.eml")
    ]
    [mail] = [m for m in mails if "final price" in str(m["Subject"])]
    assert mail["X-Chatkeeper-Edited"] == "yes (earlier text not archived)"
    body = mail.get_body(("plain",))  # type: ignore[attr-defined]
    assert "Reaction thumbsup by Bob, Alice" in body.get_content()
    _mkdir(tmp_path / "j-html")
    [page] = (_export("html", tmp_path) / "html").glob("*.html")
    html = page.read_text("utf-8")
    assert "edited at 2025-11-29 09:58:20 (earlier text not archived)" in html
    assert "thumbsup 2 (Bob, Alice)" in html
    assert '<span class="sender">Price Alerts</span>' in html
    _mkdir(tmp_path / "j-slack")
    archive = zipfile.ZipFile(_export("slack", tmp_path) / "slack-export.zip")
    [day] = [json.loads(archive.read(n)) for n in archive.namelist() if n.startswith("desk/")]
    [first] = [m for m in day if m["text"] == "final price 99"]
    assert first["edited"] == {"user": "U0ALICE01", "ts": "1764410300.000000"}
    assert first["reactions"] == [
        {"name": "thumbsup", "users": ["U0BOB0001", "U0ALICE01"], "count": 2}
    ]
    _mkdir(tmp_path / "j-csv")
    text = (_export("csv", tmp_path) / "messages.csv").read_text("utf-8-sig")
    rows = list(csv.DictReader(io.StringIO(text, newline="")))
    assert all(None not in row for row in rows)  # every row has exactly the header's columns
    [row] = [r for r in rows if r["text"] == "final price 99"]
    assert (row["edited"], row["reactions"]) == ("true", "thumbsup:2")
    assert row["reactors"] == "thumbsup: Bob (U0BOB0001), Alice (U0ALICE01)"
    _mkdir(tmp_path / "j-jsonl")
    lines = (_export("jsonl", tmp_path) / "records.jsonl").read_text("utf-8").splitlines()
    kinds = sorted(json.loads(line)["record"]["kind"] for line in lines)
    assert kinds.count("reaction_added") == 2
