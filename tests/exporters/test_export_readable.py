"""Slack markup, bot names, thread links, Telegram albums and topics read as people expect."""

from __future__ import annotations

import json
import zipfile
from dataclasses import replace
from email import policy
from email.parser import BytesParser
from pathlib import Path

from archive.model import Actor, Attachment, AttachmentState, Kind, Platform, Record
from exporters.slack_markup import readable
from tests.exporters.export_fixtures import (
    BOB,
    DEALS,
    TG_GROUP,
    TG_IVAN,
    ListBundleSource,
    _Builder,
    archive_records,
    run,
)
from tests.exporters.rsmf_spec import body_text, manifest_of, parsed
from tests.exporters.test_export_chromium import _run as chromium

MARKUP = (
    "Hi <@U0BOB0001>, see <#C0QUIET01> and <https://example.com/m?a=1&amp;b=2|the memo> "
    "&lt;b&gt;not a tag&lt;/b&gt; &amp; more <!here> <mailto:bob@example.com|bob@example.com>"
)
READABLE = (
    "Hi @Bob Åkesson, see #quiet-room and the memo (https://example.com/m?a=1&b=2) "
    "<b>not a tag</b> & more @here bob@example.com"
)
BOT = Actor("B0DEPLOY1", None, None, is_bot=True)


def _photo(n: int) -> Attachment:
    data = f"photo {n}".encode()
    return Attachment(
        f"photo-{n}.jpg", AttachmentState.PENDING, None, "image/jpeg", len(data), ref=f"P{n}"
    )


def _records() -> list[Record]:
    b = _Builder()
    b.records = archive_records()
    s, t = Platform.SLACK, Platform.TELEGRAM
    b.add(s, DEALS, Kind.MESSAGE, 90, Actor("U0ALICE01", "Alice Moreau"), name="deals", text=MARKUP)
    b.add(s, DEALS, Kind.MESSAGE, 91, BOT, name="deals", text="deploy finished")
    named = Actor("B0DEPLOY1", "Deploy Bot", None, is_bot=True)
    b.add(s, DEALS, Kind.MESSAGE, 92, named, name="deals", text="second run finished")
    g = "Desk Chat 🇫🇷"
    for n in (1, 2, 3):
        b.add(
            t,
            TG_GROUP,
            Kind.MESSAGE,
            93,
            TG_IVAN,
            name=g,
            message_id=f"300{n}",
            text="Album caption" if n == 1 else None,
            attachments=(_photo(n),),
            details={"media_group_id": "A77"},
        )
    b.add(
        t,
        TG_GROUP,
        Kind.OTHER,
        94,
        TG_IVAN,
        name=g,
        message_id="4000",
        details={"service": "forum_topic_created", "topic_name": "Orders"},
    )
    topic = b.add(
        t, TG_GROUP, Kind.MESSAGE, 95, TG_IVAN, name=g, message_id="4001", text="in the topic"
    )
    b.records[-1] = replace(topic, thread_id="4000", reply_to="4000")
    return b.records


def _export(fmt: str, out: Path) -> Path:
    run(fmt, out, source=ListBundleSource(_records()))
    return out


def test_html_shows_decoded_markup_names_and_readable_thread_links(tmp_path: Path) -> None:
    """Chromium's DOM holds names, channel names, link labels and thread times, no raw markup."""
    page = _export("html", tmp_path / "out") / "html" / "slack-T0001-C0DEALS01.html"
    dom = chromium(tmp_path / "profile", "--dump-dom", page.as_uri()).stdout.decode("utf-8")
    assert READABLE.replace("&", "&amp;").replace("<", "&lt;").replace(">", "&gt;") in dom
    assert "&lt;@U0BOB0001&gt;" not in dom and "U0BOB0001" not in dom.split("<body>")[1]
    assert '<span class="sender">Deploy Bot</span>' in dom
    assert "B0DEPLOY1</span>" not in dom
    assert f'reply in thread <a href="#m-1793610180.000000">{BOB.name}, 2026-11-02 09:03</a>' in dom


def test_telegram_album_is_one_message_and_a_topic_one_thread(tmp_path: Path) -> None:
    """Three photos of one album are one message; a topic's messages reply to the topic."""
    page = _export("html", tmp_path / "out") / "html" / "telegram-7000000001--1001234567890.html"
    dom = chromium(tmp_path / "profile", "--dump-dom", page.as_uri()).stdout.decode("utf-8")
    assert dom.count('id="m-3001"') == 1 and 'id="m-3002"' not in dom
    album = dom.split('id="m-3001"', 1)[1].split("</article>", 1)[0]
    assert [f"photo-{n}.jpg" in album for n in (1, 2, 3)] == [True, True, True]
    assert 'reply in topic <a href="#m-4000">“Orders”</a>' in dom
    assert 'id="m-4000"' in dom
    [rsmf] = (_export("rsmf", tmp_path / "r") / "rsmf" / "telegram-7000000001--1001234567890").glob(
        "*"
    )
    manifest, _ = manifest_of(parsed(rsmf))
    events = {e["id"]: e for e in manifest["events"]}
    assert events["4001"]["parent"] == "4000"
    assert len(events["3001"].get("custom", [])) and "3002" not in events
    assert {"name": "album", "value": "3002, 3003"} in events["3001"]["custom"]


def test_eml_and_rsmf_text_are_decoded_and_the_slack_format_keeps_markup(tmp_path: Path) -> None:
    """People's formats read the decoded text; the Slack export keeps Slack's own markup."""
    rsmf = _export("rsmf", tmp_path / "r") / "rsmf" / "slack-T0001-C0DEALS01" / "2026-11-02.rsmf"
    message = parsed(rsmf)
    assert READABLE in body_text(message)
    manifest, _ = manifest_of(message)
    [event] = [e for e in manifest["events"] if e.get("body") == READABLE]
    assert {"name": "markup", "value": MARKUP} in event["custom"]
    emls = list((_export("eml", tmp_path / "e") / "eml").rglob("*.eml"))
    assert any(_body_has(p, READABLE) for p in emls)
    archive = zipfile.ZipFile(_export("slack", tmp_path / "s") / "slack-export.zip")
    day = json.loads(archive.read("deals/2026-11-02.json"))
    assert MARKUP in [m["text"] for m in day]


def _body_has(path: Path, text: str) -> bool:
    mail = BytesParser(policy=policy.strict).parsebytes(path.read_bytes())
    body = mail.get_body(("plain",))  # type: ignore[attr-defined]
    return body is not None and text in body.get_content()


def test_text_without_a_token_or_an_entity_reads_as_it_is() -> None:
    """Text with no ``<`` and no ``&`` comes back as it is; a lone entity or token in
    otherwise plain text is still decoded."""
    plain = "rate > 5 | @U0BOB0001 #deals !here mailto:bob@example.com"
    assert readable(plain, lambda _: "Bob") == plain
    assert readable("a &gt; b", lambda _: "Bob") == "a > b"
    assert readable("ask <@U0BOB0001>", lambda _: "Bob") == "ask @Bob"
