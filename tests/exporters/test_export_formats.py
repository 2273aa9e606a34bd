"""What each format holds, read back with the tools a reviewer would use."""

from __future__ import annotations

import csv
import io
import json
import zipfile
from email import policy
from email.message import EmailMessage
from email.parser import BytesParser
from pathlib import Path
from typing import Any

import jsonschema

from archive.codec import canonical_json, encode_body
from tests.exporters.export_fixtures import (
    ALICE,
    CHART,
    COMBINING,
    LONG_TEXT,
    TERM_SHEET,
    archive_records,
    run,
)

SCHEMA = json.loads((Path(__file__).parent / "rsmf" / "rsmf_schema_2_0_0.json").read_text())


def _rsmf_files(out: Path) -> dict[str, EmailMessage]:
    parser = BytesParser(policy=policy.default)
    return {
        p.relative_to(out / "rsmf").as_posix(): parser.parsebytes(p.read_bytes())  # type: ignore[misc]
        for p in sorted((out / "rsmf").rglob("*.rsmf"))
    }


def _rsmf_zip(message: EmailMessage) -> zipfile.ZipFile:
    attachments = list(message.iter_attachments())
    assert [a.get_filename() for a in attachments] == ["rsmf.zip"]
    assert attachments[0]["Content-Transfer-Encoding"] == "base64"
    payload = attachments[0].get_payload(decode=True)
    assert isinstance(payload, bytes)
    return zipfile.ZipFile(io.BytesIO(payload))


def test_rsmf_headers_and_manifest_validate_against_the_schema(tmp_path: Path) -> None:
    """Every .rsmf has the X-RSMF headers and one rsmf.zip whose manifest validates."""
    run("rsmf", tmp_path)
    files = _rsmf_files(tmp_path)
    assert sorted(files) == [
        "slack-T0001-C0DEALS01/2026-11-02.rsmf",
        "slack-T0001-C0DEALS01/2026-11-03.rsmf",
        "slack-T0001-C0QUIET01/2026-11-02.rsmf",
        "slack-T0001-D0DM00001/2026-11-02.rsmf",
        "telegram-7000000001--1001234567890/2026-11-02.rsmf",
    ]
    validator = jsonschema.Draft7Validator(SCHEMA, format_checker=jsonschema.FormatChecker())
    collections = set()
    for message in files.values():
        assert message["X-RSMF-Version"] == "2.0.0"
        assert message["X-RSMF-Generator"] == "chatkeeper 0.1.0"
        archive = _rsmf_zip(message)
        manifest = json.loads(archive.read("rsmf_manifest.json"))
        validator.validate(manifest)
        assert int(message["X-RSMF-EventCount"]) == len(manifest["events"])
        assert message["X-RSMF-BeginDate"] == manifest["events"][0]["timestamp"]
        assert message["X-RSMF-EndDate"] == manifest["events"][-1]["timestamp"]
        assert message["X-RSMF-Application"] in {"Slack", "Telegram"}
        assert message["X-RSMF-EventCollectionID"] == manifest["eventcollectionid"]
        collections.add((manifest["conversations"][0]["id"], manifest["eventcollectionid"]))
        names = set(archive.namelist()) - {"rsmf_manifest.json"}
        references = [a for e in manifest["events"] for a in e.get("attachments", [])]
        assert int(message["X-RSMF-AttachmentCount"]) == len(references)
        assert {a["id"] for a in references} == names
        displays = [p.get("display", p["id"]) for p in manifest["participants"]]
        assert message["X-RSMF-Participants"] == ", ".join(displays)
        _assert_references_resolve(manifest, names)
    assert len({c for c, _ in collections}) == len({e for _, e in collections}) == 4


def _assert_references_resolve(manifest: dict[str, Any], files: set[str]) -> None:
    participants = {p["id"] for p in manifest["participants"]}
    ids = {e["id"] for e in manifest["events"] if "id" in e}
    for event in manifest["events"]:
        assert event["participant"] in participants
        assert event.get("parent", next(iter(ids))) in ids
        for reaction in event.get("reactions", []):
            assert set(reaction["participants"]) <= participants
        for edit in event.get("edits", []):
            assert edit["participant"] in participants
        for attachment in event.get("attachments", []):
            assert attachment["id"] in files
    for conversation in manifest["conversations"]:
        assert set(conversation["participants"]) <= participants


def test_rsmf_uses_edits_deletions_reactions_threads_joins_and_attachments(tmp_path: Path) -> None:
    """The deals channel's first day shows every feature the schema offers."""
    run("rsmf", tmp_path)
    message = _rsmf_files(tmp_path)["slack-T0001-C0DEALS01/2026-11-02.rsmf"]
    archive = _rsmf_zip(message)
    manifest = json.loads(archive.read("rsmf_manifest.json"))
    events = manifest["events"]
    by_body = {e.get("body", "")[:20]: e for e in events}
    assert [e["type"] for e in events if e["type"] != "message"] == ["history", "join", "leave"]
    price = by_body["Price is 101.25, fir"]
    assert price["edits"] == [
        {
            "participant": "U0BOB0001",
            "timestamp": "2026-11-02T09:05:00.000000Z",
            "previous": "Price is 101.5, firm until noon",
            "new": "Price is 101.25, firm until noon",
        }
    ]
    assert price["reactions"] == [
        {"value": "thumbsup", "count": 2, "participants": ["U0ALICE01", "U0CAROL01"]}
    ]
    replies = [e for e in events if e.get("parent") == price["id"]]
    assert [r["body"] for r in replies] == ["مرحبا، السعر جيد", COMBINING]
    deleted = by_body["Call me on my person"]
    assert deleted["deleted"] is True
    assert deleted["body"] == "Call me on my personal phone instead"
    morning = by_body["Morning all 👋 — term"]
    assert morning["body"] == "Morning all 👋 — term sheet v3 attached"
    [attachment] = morning["attachments"]
    assert attachment["display"] == "term-sheet v3.pdf"
    assert attachment["size"] == len(TERM_SHEET)
    assert archive.read(attachment["id"]) == TERM_SHEET
    assert by_body[LONG_TEXT[:20]]["body"] == LONG_TEXT
    participants = {p["id"]: p for p in manifest["participants"]}
    assert participants["U0ALICE01"]["email"] == "alice@example.com"
    [conversation] = manifest["conversations"]
    assert (conversation["type"], conversation["display"]) == ("channel", "deals")
    unavailable = by_body["chart for the deck ("]["custom"]
    assert {
        "name": "attachment_not_archived",
        "value": "huge-model.xlsx (too_large: over the 100 MB limit)",
    } in unavailable


def test_rsmf_direct_conversation_and_hour_slices(tmp_path: Path) -> None:
    """A DM is 'direct'; with a one-hour slice a conversation splits by hour."""
    run("rsmf", tmp_path / "day")
    dm = _rsmf_files(tmp_path / "day")["slack-T0001-D0DM00001/2026-11-02.rsmf"]
    manifest = json.loads(_rsmf_zip(dm).read("rsmf_manifest.json"))
    assert manifest["conversations"][0]["type"] == "direct"
    assert _rsmf_zip(dm).read(manifest["events"][0]["attachments"][0]["id"]) == CHART
    run("rsmf", tmp_path / "hour", slice_seconds=3600)
    hourly = sorted(_rsmf_files(tmp_path / "hour"))
    assert "slack-T0001-C0DEALS01/2026-11-02T0900Z.rsmf" in hourly
    assert "slack-T0001-C0DEALS01/2026-11-03T0900Z.rsmf" in hourly


def _eml(out: Path) -> list[EmailMessage]:
    parser = BytesParser(policy=policy.default)
    return [parser.parsebytes(p.read_bytes()) for p in sorted((out / "eml").rglob("*.eml"))]  # type: ignore[misc]


def _text(mail: EmailMessage) -> str:
    body = mail.get_body(("plain",))
    assert body is not None
    return str(body.get_content()).replace("\r\n", "\n")


def test_eml_messages_parse_with_headers_threading_and_attachments(tmp_path: Path) -> None:
    """One mail per chat message with From/To/Date/Subject, threading and attachment bytes."""
    run("eml", tmp_path)
    mails = _eml(tmp_path)
    assert len(mails) == 13
    by_text = {_text(m).split("\n")[0][:20]: m for m in mails}
    morning = by_text["Morning all 👋 — term"]
    assert morning["From"].addresses[0].addr_spec == ALICE.email
    assert morning["From"].addresses[0].display_name == "Alice Moreau"
    assert morning["To"].addresses[0].display_name == "deals"
    assert morning["Date"].datetime.isoformat() == "2026-11-02T09:02:00+00:00"
    assert morning["Subject"] == "[slack deals] Morning all 👋 — term sheet v3 attached"
    [attachment] = list(morning.iter_attachments())
    assert attachment.get_filename() == "3bc342145c90_term-sheet_v3.pdf"
    assert attachment.get_content() == TERM_SHEET
    price = by_text["Price is 101.25, fir"]
    reply = by_text["مرحبا، السعر جيد"]
    assert reply["In-Reply-To"] == price["Message-ID"]
    assert reply["References"] == price["Message-ID"]
    body = _text(price)
    assert "before: Price is 101.5, firm until noon" in body
    assert "Reaction thumbsup by Alice Moreau, كارول" in body
    deleted = by_text["Call me on my person"]
    assert deleted["X-Chatkeeper-Deleted"] == "yes"
    long = by_text[LONG_TEXT[:20]]
    assert _text(long).startswith(LONG_TEXT + "\n")
    combining = by_text[COMBINING[:20]]
    assert _text(combining).startswith(COMBINING + "\n")


def test_html_transcript_is_self_contained_and_complete(tmp_path: Path) -> None:
    """No script or network reference; status, bundles, days, edits, deletions, files."""
    result = run("html", tmp_path)
    page = (tmp_path / "html" / "slack-T0001-C0DEALS01.html").read_text("utf-8")
    assert "<script" not in page.lower()
    assert "http://" not in page and "https://" not in page and "//" not in page.replace("://", "")
    assert "Verified: bundles 1-3" in page
    for bundle in result.bundles:
        assert bundle.manifest_sha256 in page
    assert page.count('<h2 class="day">') == 2
    assert "&lt;b&gt;bold?&lt;/b&gt;" in page and "<b>bold?</b>" not in page
    assert "deleted by Bob Åkesson" in page
    assert "Call me on my personal phone instead" in page
    assert (
        "huge-model.xlsx (734,003,200 bytes) — not archived (too_large: over the 100 MB limit)"
        in page
    )
    assert LONG_TEXT in page
    assert "@media print" in page
    link = "files/3bc342145c90a014b8c2607e99db01e4cf1bac34f44c8b179158f5e863dea43f/3bc342145c90_term-sheet_v3.pdf"
    assert f'href="{link}"' in page
    assert (tmp_path / "html" / link).read_bytes() == TERM_SHEET
    quiet = (tmp_path / "html" / "slack-T0001-C0QUIET01.html").read_text("utf-8")
    assert "changed archiving for this conversation" in quiet


def test_csv_has_one_row_per_message_and_event(tmp_path: Path) -> None:
    """Rows read back with the csv module, unicode and long text intact."""
    run("csv", tmp_path)
    text = (tmp_path / "messages.csv").read_text("utf-8-sig")
    rows = list(csv.DictReader(io.StringIO(text, newline="")))
    messages = [r for r in rows if r["type"] == "message"]
    assert len(messages) == 13
    assert len(rows) == 13 + 5
    by_text = {r["text"][:20]: r for r in messages}
    assert by_text[LONG_TEXT[:20]]["text"] == LONG_TEXT
    assert by_text["Price is 101.25, fir"]["reactions"] == "thumbsup:2"
    assert by_text["Price is 101.25, fir"]["edit_count"] == "1"
    assert by_text["Call me on my person"]["deleted"] == "true"
    assert by_text[COMBINING[:20]]["text"] == COMBINING
    assert {r["verified"] for r in rows} == {"true"}


def test_jsonl_lines_carry_the_canonical_record_bodies(tmp_path: Path) -> None:
    """Each line's record is the canonical body sealed in the bundle, with seq and bundle."""
    run("jsonl", tmp_path)
    lines = (tmp_path / "records.jsonl").read_bytes().splitlines()
    records = archive_records()
    assert len(lines) == len(records)
    for line, record in zip(lines, records, strict=True):
        value = json.loads(line)
        assert canonical_json(value["record"]) == encode_body(record)
        assert value["seq"] == record.seq
        assert value["bundle"] == ((record.seq or 0) - 1) // 10 + 1
        assert value["verified"] is True


def test_slack_export_has_the_workspace_layout(tmp_path: Path) -> None:
    """channels/groups/mpims/dms.json, users.json and per-conversation per-day message arrays."""
    run("slack", tmp_path)
    archive = zipfile.ZipFile(tmp_path / "slack-export.zip")
    assert sorted(archive.namelist()) == [
        "D0DM00001/2026-11-02.json",
        "Desk Chat 🇫🇷/2026-11-02.json",
        "channels.json",
        "deals/2026-11-02.json",
        "deals/2026-11-03.json",
        "dms.json",
        "groups.json",
        "mpims.json",
        "users.json",
    ]
    channels = {c["id"]: c for c in json.loads(archive.read("channels.json"))}
    assert channels["C0DEALS01"]["name"] == "deals"
    assert json.loads(archive.read("dms.json"))[0]["id"] == "D0DM00001"
    assert [g["id"] for g in json.loads(archive.read("groups.json"))] == ["-1001234567890"]
    users = {u["id"]: u for u in json.loads(archive.read("users.json"))}
    assert users["U0ALICE01"]["profile"]["email"] == "alice@example.com"
    day = json.loads(archive.read("deals/2026-11-02.json"))
    price = next(m for m in day if m["text"].startswith("Price"))
    assert price["ts"] == "1793610180.000000"
    assert price["thread_ts"] == price["ts"]
    assert (price["reply_count"], price["reply_users"]) == (3, ["U0CAROL01", "U0ALICE01"])
    assert price["edited"] == {"user": "U0BOB0001", "ts": "1793610300.000000"}
    assert price["reactions"] == [
        {"name": "thumbsup", "users": ["U0ALICE01", "U0CAROL01"], "count": 2}
    ]
    assert [m["subtype"] for m in day if "subtype" in m] == ["channel_join", "channel_leave"]
    assert channels["C0QUIET01"]["name"] == "quiet-room"  # listed, with no day files
