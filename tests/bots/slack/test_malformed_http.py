"""Malformed bodies on the Slack endpoint: 401 before parsing unless signed, else 400 and kept."""

from __future__ import annotations

import json
import time
import urllib.parse
from unittest import mock

import pytest

from archive.errors import JournalError
from archive.model import Kind
from bots.json_depth import MAX_JSON_DEPTH, nests_deeper_than
from tests.bots.slack.conftest import TEAM, Harness

DEEP = b'{"a":' * 200_000 + b"1" + b"}" * 200_000
MALFORMED: dict[str, tuple[bytes, str]] = {
    "invalid_json": (b'{"type": "event_callback", ', "application/json"),
    "json_array": (b'[{"type": "event_callback"}]', "application/json"),
    "json_string": (b'"event_callback"', "application/json"),
    "json_null": (b"null", "application/json"),
    "deep_array": (b"[" * 200_000 + b"]" * 200_000, "application/json"),
    "deep_object": (DEEP, "application/json"),
    "just_under_recursion_limit": (b"[" * 900 + b"]" * 900, "application/json"),
    "deep_form_payload": (
        urllib.parse.urlencode({"payload": "[" * 100_000 + "]" * 100_000}).encode(),
        "application/x-www-form-urlencoded",
    ),
    "form_payload_not_json": (b"payload=%7Bnope", "application/x-www-form-urlencoded"),
    "not_utf8": (b'{"type": "\xff\xfe"}', "application/json"),
    "event_not_an_object": (
        json.dumps({"type": "event_callback", "team_id": TEAM, "event": "message"}).encode(),
        "application/json",
    ),
    "event_is_a_list": (
        json.dumps({"type": "event_callback", "team_id": TEAM, "event": [1]}).encode(),
        "application/json",
    ),
    "event_missing": (
        json.dumps({"type": "event_callback", "team_id": TEAM, "event_id": "EvX"}).encode(),
        "application/json",
    ),
    "authorizations_not_a_list": (
        json.dumps({"type": "event_callback", "team_id": TEAM, "authorizations": 5}).encode(),
        "application/json",
    ),
    "shared_channel_event_string": (
        json.dumps(
            {"type": "event_callback", "is_ext_shared_channel": True, "event": "x"}
        ).encode(),
        "application/json",
    ),
    "form_without_command": (b"a=b", "application/x-www-form-urlencoded"),
    "empty": (b"", "application/json"),
}


def _records(h: Harness) -> list:  # type: ignore[type-arg]
    return list(h.journal.iter_records())


@pytest.mark.parametrize("name", sorted(MALFORMED))
async def test_unsigned_or_forged_malformed_body_is_401(harness: Harness, name: str) -> None:
    """Without a valid signature a malformed body gets 401 (not 500) and nothing is journaled."""
    body, content_type = MALFORMED[name]
    unsigned = await harness.sender.post(
        "/slack/events", body, content_type=content_type, signed=False
    )
    forged = await harness.sender.post(
        "/slack/events",
        body,
        content_type=content_type,
        headers={"X-Slack-Signature": "v0=" + "0" * 64},
    )
    assert (unsigned.status, forged.status) == (401, 401)
    assert _records(harness) == []


@pytest.mark.parametrize(
    "stamp, signature",
    [("yesterday", "v0=" + "0" * 64), ("", ""), (str(int(time.time())), "v0=\u00e9t\u00e9")],
)
async def test_odd_signature_headers_are_401(harness: Harness, stamp: str, signature: str) -> None:
    """A timestamp that is not a number or a non-ASCII signature is refused 401, not a 500."""
    delivered = await harness.sender.post(
        "/slack/events",
        b"[" * 100_000,
        headers={"X-Slack-Request-Timestamp": stamp, "X-Slack-Signature": signature},
        signed=False,
    )
    assert delivered.status == 401
    assert _records(harness) == []


@pytest.mark.parametrize("name", sorted(MALFORMED))
async def test_signed_malformed_body_is_400_and_kept_once(harness: Harness, name: str) -> None:
    """A signed malformed body gets 400 and is kept raw as one other record, retries included."""
    body, content_type = MALFORMED[name]
    first = await harness.sender.post("/slack/events", body, content_type=content_type)
    retry = await harness.sender.post(
        "/slack/events",
        body,
        content_type=content_type,
        headers={"X-Slack-Retry-Num": "1", "X-Slack-Retry-Reason": "http_error"},
    )
    assert (first.status, retry.status) == (400, 400), first.body
    (record,) = _records(harness)
    assert record.kind is Kind.OTHER
    assert record.raw == body
    assert record.details["malformed"]


async def test_signed_event_not_an_object_keeps_the_team(harness: Harness) -> None:
    """A signed event_callback whose event is a string is kept under its team, marked malformed."""
    body, _ = MALFORMED["event_not_an_object"]
    delivered = await harness.sender.post("/slack/events", body)
    assert delivered.status == 400
    (record,) = _records(harness)
    assert record.workspace == TEAM
    assert record.details == {
        "event": "event_callback",
        "malformed": "event_callback without an event object",
    }


async def test_malformed_body_is_answered_only_after_the_commit(harness: Harness) -> None:
    """If the journal fails while keeping a malformed body, Slack gets 500 and its retry is kept once."""
    body, content_type = MALFORMED["deep_array"]
    with mock.patch.object(harness.journal, "submit", side_effect=JournalError("disk full")):
        failed = await harness.sender.post("/slack/events", body, content_type=content_type)
    assert failed.status == 500
    assert _records(harness) == []
    retried = await harness.sender.post("/slack/events", body, content_type=content_type)
    assert retried.status == 400
    assert len(_records(harness)) == 1


async def test_slash_command_still_reaches_bolt(harness: Harness) -> None:
    """A well-formed signed slash command is not mistaken for a malformed body."""
    delivered = await harness.sender.command(
        team=TEAM, channel="C0GENERAL", user="U0ALICE01", text="help"
    )
    assert delivered.status == 200
    assert [r.kind for r in _records(harness)] == [Kind.ADMIN_ACTION]


def test_depth_ignores_brackets_inside_strings() -> None:
    """Brackets inside JSON strings (escaped quotes too) do not count towards the depth."""
    inside = json.dumps({"text": "[" * 1000 + '\\"' + "{" * 1000}).encode()
    assert not nests_deeper_than(inside)
    assert nests_deeper_than(b"[" * (MAX_JSON_DEPTH + 1))
    assert not nests_deeper_than(b"[" * MAX_JSON_DEPTH + b"]" * MAX_JSON_DEPTH)
    assert not nests_deeper_than(b"[]" * 10_000)


def test_signature_matches_slack_sdk() -> None:
    """chatkeeper's byte-exact v0 signature equals slack_sdk's for a UTF-8 body."""
    from slack_sdk.signature import SignatureVerifier

    from bots.slack.inbound import request_signature
    from tests.bots.slack.conftest import SECRET

    body = json.dumps({"text": "Offer 99 ½"}, ensure_ascii=False).encode()
    expected = SignatureVerifier(SECRET).generate_signature(timestamp="1764410000", body=body)
    assert request_signature(SECRET, "1764410000", body) == expected
