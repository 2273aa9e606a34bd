"""Telegram service messages (live Bot API updates) rendered as what they were, in every format."""

from __future__ import annotations

import csv
import io
import json
import zipfile
from dataclasses import replace
from pathlib import Path
from typing import Any

from archive.model import Record, Source
from bots.telegram.sandbox import payloads as p
from bots.telegram.translate import Delivery, translate_update
from tests.exporters.export_fixtures import T0, ListBundleSource, run
from tests.exporters.rsmf_spec import manifest_of, parsed, problems

GROUP = p.supergroup(title="Desk")
IVAN = p.user(501, "Ivan")
NOA = p.user(502, "Noa")
DANA = p.user(503, "Dana")
DELIVERY = Delivery("7000000001", Source.WEBHOOK, T0)
START = int(T0.timestamp())


def _records() -> list[Record]:
    messages: list[dict[str, Any]] = [
        p.message(GROUP, IVAN, 1, date=START, group_chat_created=True),
        p.message(GROUP, IVAN, 2, "Welcome", date=START + 60),
        p.message(GROUP, IVAN, 3, date=START + 120, new_chat_members=[NOA, DANA]),
        p.message(GROUP, IVAN, 4, date=START + 180, new_chat_title="Desk EU"),
        p.message(
            GROUP,
            IVAN,
            5,
            date=START + 240,
            new_chat_photo=[{"file_id": "x", "file_unique_id": "y", "width": 1, "height": 1}],
        ),
        p.message(GROUP, IVAN, 6, date=START + 300, pinned_message=p.message(GROUP, IVAN, 2)),
        p.message(GROUP, IVAN, 7, date=START + 360, pinned_message=p.message(GROUP, IVAN, 900)),
        p.message(GROUP, IVAN, 8, date=START + 420, left_chat_member=DANA),
        p.message(GROUP, IVAN, 9, date=START + 480, migrate_from_chat_id=-12345),
        p.message(
            GROUP,
            IVAN,
            10,
            date=START + 540,
            forum_topic_created={"name": "Orders", "icon_color": 7322096},
            is_topic_message=True,
        ),
        p.message(GROUP, IVAN, 11, date=START + 600, forum_topic_closed={}),
    ]
    records = []
    for n, message in enumerate(messages, 1):
        raw = json.dumps({"update_id": 5000 + n, "message": message}).encode()
        records.extend(translate_update(raw, json.loads(raw), DELIVERY))
    return [replace(r, seq=n) for n, r in enumerate(records, 1)]


def _export(fmt: str, out: Path) -> Path:
    run(fmt, out, source=ListBundleSource(_records()))
    return out


def test_rsmf_maps_each_service_message_to_its_event(tmp_path: Path) -> None:
    """Creation, title, photo, pins, members added/removed by someone, migrate, topics."""
    [path] = (_export("rsmf", tmp_path) / "rsmf").rglob("*.rsmf")
    assert problems(path) == []
    manifest, _ = manifest_of(parsed(path))
    names = {x["id"]: x["display"] for x in manifest["participants"]}
    seen = [(e["type"], names[e["participant"]], e.get("body")) for e in manifest["events"]]
    assert seen == [
        ("history", "Ivan", "Ivan created the group"),
        ("message", "Ivan", "Welcome"),
        ("join", "Noa", None),
        ("join", "Dana", None),
        ("history", "Ivan", "Ivan renamed the conversation to “Desk EU”"),
        ("history", "Ivan", "Ivan changed the chat photo"),
        ("history", "Ivan", "Ivan pinned message 900 (not in this export)"),
        ("leave", "Dana", None),
        ("history", "Ivan", "Ivan upgraded this supergroup from a group"),
        ("history", "Ivan", "Ivan created the topic “Orders”"),
        ("history", "Ivan", "Ivan closed the topic"),
    ]
    joins = [e for e in manifest["events"] if e["type"] == "join"]
    assert all({"name": "by", "value": "501"} in e["custom"] for e in joins)
    welcome = manifest["events"][1]
    assert {"name": "pinned", "value": "yes"} in welcome["custom"]
    for event in manifest["events"]:
        for item in event["custom"]:
            assert not item["value"].startswith("["), item  # no Python list printed as text


def test_html_csv_and_slack_render_the_same_service_messages(tmp_path: Path) -> None:
    """The other formats say the same: who added whom, the pin, the creation."""
    [page] = (_export("html", tmp_path / "h") / "html").glob("*.html")
    html = page.read_text("utf-8")
    for words in (
        "Ivan created the group",
        "Ivan added Noa, Dana",
        "Ivan removed Dana",
        "Ivan pinned message 900 (not in this export)",
        "Ivan created the topic “Orders”",
    ):
        assert words in html, words
    text = (_export("csv", tmp_path / "c") / "messages.csv").read_text("utf-8-sig")
    rows = list(csv.DictReader(io.StringIO(text, newline="")))
    assert [r["text"] for r in rows if r["type"] == "member_joined"] == ["Ivan added Noa, Dana"]
    assert [r["type"] for r in rows].count("pin_added") == 1
    archive = zipfile.ZipFile(_export("slack", tmp_path / "s") / "slack-export.zip")
    [day] = [n for n in archive.namelist() if n.endswith(".json") and "/" in n]
    messages = json.loads(archive.read(day))
    joins = [(m["user"], m.get("inviter")) for m in messages if m.get("subtype") == "channel_join"]
    assert joins == [("502", "501"), ("503", "501")]
    [pin] = [m for m in messages if m.get("subtype") == "pinned_item"]
    assert pin["user"] == "501"


def test_live_forward_origin_shows_in_every_format(tmp_path: Path) -> None:
    """A message forwarded from a channel says where it came from in RSMF, EML, HTML, Slack, CSV."""
    origin = {
        "type": "channel",
        "chat": {"id": -1009876543210, "type": "channel", "title": "Research notes"},
        "message_id": 12,
        "date": START - 3600,
    }
    message = p.message(GROUP, IVAN, 20, "buy signal", date=START, forward_origin=origin)
    raw = json.dumps({"update_id": 7000, "message": message}).encode()
    records = [replace(r, seq=1) for r in translate_update(raw, json.loads(raw), DELIVERY)]
    words = "channel Research notes (message 12)"
    out = {fmt: tmp_path / fmt for fmt in ("rsmf", "eml", "html", "slack", "csv")}
    for fmt, folder in out.items():
        run(fmt, folder, source=ListBundleSource(records))
    [rsmf] = (out["rsmf"] / "rsmf").rglob("*.rsmf")
    manifest, _ = manifest_of(parsed(rsmf))
    assert {"name": "forwarded_from", "value": words} in manifest["events"][0]["custom"]
    [eml] = (out["eml"] / "eml").rglob("*.eml")
    assert f"Forwarded from {words}" in eml.read_bytes().decode()
    [page] = (out["html"] / "html").glob("*.html")
    assert f"↪ forwarded from {words}" in page.read_text("utf-8")
    archive = zipfile.ZipFile(out["slack"] / "slack-export.zip")
    [day] = [n for n in archive.namelist() if "/" in n]
    [value] = json.loads(archive.read(day))
    assert value["chatkeeper"]["forwarded_from"] == words
    assert value["attachments"][0]["author_name"] == f"Forwarded from {words}"
    text = (out["csv"] / "messages.csv").read_text("utf-8-sig")
    assert [r["forwarded_from"] for r in csv.DictReader(io.StringIO(text, newline=""))] == [words]
