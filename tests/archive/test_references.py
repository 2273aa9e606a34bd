"""refers_back: the platform time of the messages that a bundle's records point at."""

from __future__ import annotations

import json
from dataclasses import replace
from typing import Any

from archive.codec import decode_body, encode_body, format_time, parse_time
from archive.model import Kind, Record, Source
from archive.references import (
    MAX_SPANS,
    Point,
    References,
    field_problems,
    spans_of,
    target_time,
)
from bots.slack.payload import Delivery, Snapshot
from bots.slack.sandbox.payloads import EVENTS
from bots.slack.translate import event_record
from bots.telegram import translate as telegram
from bots.telegram.sandbox import payloads as p
from tests.bots.telegram.conftest import BOT_ID, NOW

GROUP = p.supergroup()
ALICE = p.user(501, "Alice", "alice")
BOB = p.user(502, "Bob")


def _slack(name: str) -> Record:
    envelope = {"team_id": "T1", "event_id": f"Ev{name}", "event": EVENTS[name]}
    delivery = Delivery("T1", Source.EVENTS_API, b"{}", NOW, f"Ev{name}")
    return event_record(envelope, delivery, Snapshot())


def _telegram(kind: str, body: Any, update_id: int) -> Record:
    raw = json.dumps({"update_id": update_id, kind: body}).encode()
    delivery = telegram.Delivery(BOT_ID, Source.WEBHOOK, NOW)
    (record,) = telegram.translate_update(raw, json.loads(raw), delivery)
    return record


def test_slack_records_name_the_time_of_their_message() -> None:
    """A Slack edit, deletion, reaction and pin point at the ts that is their message's time."""
    message = _slack("plain")
    for name in ("message_changed", "message_deleted", "reaction_added", "pin_added"):
        record = _slack(name)
        assert record.kind is not Kind.MESSAGE
        assert target_time(record) == (True, format_time(message.occurred_at)), name


def test_telegram_edit_names_its_original_date_and_a_reaction_is_unknown() -> None:
    """A Telegram edit keeps the original date; a reaction names only a message id."""
    original = p.message(GROUP, ALICE, 32, "Bid 101")
    message = _telegram("message", original, 1)
    edit = _telegram("edited_message", p.edited(original, "Bid 102", edit_date=p.BASE_DATE + 30), 2)
    reaction = _telegram("message_reaction", p.reaction(GROUP, BOB, 32, new=("👍",)), 3)
    assert edit.occurred_at > message.occurred_at
    assert target_time(edit) == (True, format_time(message.occurred_at))
    assert target_time(reaction) == (True, None)


def test_references_span_per_conversation_and_unknown_is_sticky() -> None:
    """Spans widen per conversation; one unknown target makes the conversation null."""
    changed, deleted = _slack("message_changed"), _slack("message_deleted")
    later = replace(deleted, key="0" * 64, message_id="1764420000.000000")
    references = References()
    for record in (changed, later):
        references.note("slack:T1:C0GENERAL", record.kind.value, encode_body(record))
    reaction = _telegram("message_reaction", p.reaction(GROUP, BOB, 32, new=("👍",)), 3)
    references.note("telegram:x:y", "reaction_added", encode_body(reaction))
    references.note(
        "telegram:x:y",
        "edit",
        encode_body(
            _telegram(
                "edited_message",
                p.edited(p.message(GROUP, ALICE, 33, "Bid"), "Bid 2", edit_date=p.BASE_DATE + 30),
                4,
            )
        ),
    )
    references.note("slack:T1:C2", "edit", b"not json")
    field = references.manifest_field()
    assert field == {
        "slack:T1:C0GENERAL": [
            [format_time(_slack("plain").occurred_at)] * 2,
            ["2025-11-29T12:40:00.000000Z"] * 2,
        ],
        "slack:T1:C2": None,
        "telegram:x:y": None,
    }
    assert field_problems({"refers_back": field}) == []


def test_spans_split_at_the_widest_gaps() -> None:
    """Many targets become at most MAX_SPANS spans, split where the times are furthest apart."""
    texts = [f"2026-11-02T09:{m:02d}:00.000000Z" for m in (0, 1, 2, 30, 31, 59)]
    times: list[Point] = [(parse_time(t).timestamp(), t) for t in texts]
    times.append(
        (parse_time(texts[4]).timestamp(), f"{parse_time(texts[4]).timestamp():.6f}".encode())
    )
    assert spans_of(times, 3) == [
        ["2026-11-02T09:00:00.000000Z", "2026-11-02T09:02:00.000000Z"],
        ["2026-11-02T09:30:00.000000Z", "2026-11-02T09:31:00.000000Z"],
        ["2026-11-02T09:59:00.000000Z", "2026-11-02T09:59:00.000000Z"],
    ]
    assert spans_of(times, 1) == [["2026-11-02T09:00:00.000000Z", "2026-11-02T09:59:00.000000Z"]]
    assert len(spans_of(times)) == min(MAX_SPANS, len(texts))
    assert field_problems({"refers_back": {"c": spans_of(times)}}) == []
    # Gaps of ``join`` seconds or less never split: past one minute only the two 28-minute
    # gaps split; past 28 minutes nothing does.
    assert spans_of(times, join=60) == spans_of(times, 3)
    assert spans_of(times, join=28 * 60) == spans_of(times, 1)


def test_slack_ts_that_is_no_time_makes_the_conversation_unknown() -> None:
    """A Slack message_id that is no time (or out of range) cannot bound the span: null."""
    for ts in ("not-a-ts", "nan", "1e300"):
        record = replace(_slack("reaction_added"), message_id=ts)
        references = References()
        references.note("slack:T1:C", record.kind.value, encode_body(record))
        assert references.manifest_field() == {"slack:T1:C": None}, ts


def test_slack_rows_read_without_decoding_agree_with_decoding() -> None:
    """The byte search for a Slack row's message_id finds what decoding finds, details or not."""
    decoy = {"kind": "edit", "message_id": "1000000000.000000", "text": 'a "quoted" \\ text'}
    rows = [_slack(n) for n in ("message_changed", "message_deleted", "reaction_added")]
    rows += [replace(r, details={**r.details, "nested": decoy}) for r in rows]
    rows.append(replace(rows[0], message_id=None, text='"kind":"edit","message_id":"1.0"'))
    for record in rows:
        body = encode_body(record)
        fast = References()
        fast.note("slack:T1:C", record.kind.value, body)
        found, moment = target_time(decode_body(body))
        expected = {"slack:T1:C": None if moment is None else [[moment, moment]]}
        assert fast.manifest_field() == (expected if found else {}), record


def test_a_reaction_to_a_file_refers_to_no_message() -> None:
    """A record without a target message (a Slack file_shared event) adds nothing."""
    record = replace(_slack("reaction_added"), message_id=None)
    references = References()
    references.note("slack:T1:C", record.kind.value, encode_body(record))
    assert references.manifest_field() == {}
    assert target_time(record) == (False, None)


def test_malformed_refers_back_is_a_finding() -> None:
    """verify names a refers_back that is not a map of spans or nulls; absent is fine."""
    assert field_problems({}) == []
    bad = [
        [],
        {"c": []},
        {"c": [["2026"]]},
        {"c": [["2026", 5]]},
        {"c": [["2027", "2026"]]},
        {"c": [["2026", "2027"], ["2026", "2028"]]},
        {"c": "2026"},
    ]
    for value in bad:
        assert field_problems({"refers_back": value}) == [
            "manifest field refers_back is malformed"
        ], value
