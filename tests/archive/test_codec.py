"""Canonical JSON, record round trips, keys and the Merkle tree."""

from __future__ import annotations

import json
from datetime import UTC, datetime, timedelta, timezone

import pytest

from archive import merkle
from archive.codec import (
    canonical_json,
    decode_body,
    decode_line,
    encode_body,
    format_time,
    parse_time,
    sealed_line,
)
from archive.model import record_key
from tests.factories import slack_message, stored_attachment

TRICKY = {
    "text": 'é\u2028\x00\x1f\x7f"\\\n\t😀 שלום e\u0301',
    "nested": {"z": 1, "a": [None, True, False, -5, 2**63 - 1]},
}


@pytest.mark.parametrize("value", [TRICKY, {"big": 2**80}, {"": ""}, []])
def test_canonical_json_matches_the_standard_library(value: object) -> None:
    """Our canonical bytes equal json.dumps(sort_keys, compact, ensure_ascii=False)."""
    expected = json.dumps(value, sort_keys=True, separators=(",", ":"), ensure_ascii=False)
    assert canonical_json(value) == expected.encode("utf-8")


def test_record_round_trip_keeps_raw_bytes() -> None:
    """A record survives body and sealed-line encoding unchanged, raw bytes included."""
    record = slack_message(3, text=TRICKY["text"], attachments=(stored_attachment(b"x"),))
    body = encode_body(record)
    assert decode_body(body) == record
    line = sealed_line(42, body)
    assert line == canonical_json({"record": json.loads(body), "seq": 42})
    assert decode_line(line).seq == 42


def test_non_utf8_raw_is_base64() -> None:
    """Raw payloads that are not UTF-8 are kept exactly, base64-encoded."""
    from dataclasses import replace

    record = replace(slack_message(1), raw=b"\xff\xfe binary")
    assert json.loads(encode_body(record))["raw_encoding"] == "base64"
    assert decode_body(encode_body(record)).raw == b"\xff\xfe binary"


def test_times_are_utc_with_z() -> None:
    """Times from any zone are stored in UTC with microseconds and Z."""
    from dataclasses import replace

    plus_two = timezone(timedelta(hours=2))
    record = replace(slack_message(1), occurred_at=datetime(2026, 1, 1, 12, 0, tzinfo=plus_two))
    assert json.loads(encode_body(record))["occurred_at"] == "2026-01-01T10:00:00.000000Z"
    with pytest.raises(ValueError, match="timezone-aware"):
        replace(record, captured_at=datetime(2026, 1, 1))


@pytest.mark.parametrize(
    "moment",
    [
        datetime(2026, 11, 2, 9, 30, tzinfo=UTC),
        datetime(2026, 11, 2, 9, 30, 1, 150, tzinfo=UTC),
        datetime(1, 1, 1, tzinfo=UTC),
        datetime(999, 2, 3, 4, 5, 6, 7, tzinfo=UTC),
        datetime(9999, 12, 31, 23, 59, 59, 999999, tzinfo=UTC),
        datetime(2026, 3, 29, 1, 30, 0, 999999, tzinfo=timezone(timedelta(hours=-5, minutes=-30))),
        datetime(2026, 3, 29, 1, 30, tzinfo=timezone(timedelta(0), "zero")),
    ],
)
def test_format_time_agrees_in_every_zone(moment: datetime) -> None:
    """format_time gives the UTC ISO text with microseconds and Z, whatever the zone object."""
    expected = moment.astimezone(UTC).replace(tzinfo=None).isoformat(timespec="microseconds")
    assert format_time(moment) == expected + "Z"
    assert parse_time(format_time(moment)) == moment


def test_format_time_of_utc_is_isoformat_over_many_moments() -> None:
    """The UTC shortcut writes what isoformat writes, for moments spread over the years."""
    import random

    rng = random.Random(11)
    start = datetime(1, 1, 1, tzinfo=UTC)
    for _ in range(5000):
        moment = start + timedelta(microseconds=rng.randrange(315_537_897_600_000_000))
        assert format_time(moment) == moment.isoformat(timespec="microseconds")[:-6] + "Z"


def test_record_key_is_unambiguous() -> None:
    """Parts are encoded, so moving a separator between parts changes the key."""
    assert record_key("slack", "T1", "a|b", "c") != record_key("slack", "T1", "a", "b|c")
    assert record_key("slack", "T1", 5) == record_key("slack", "T1", "5")


def _reference_root(leaves: list[bytes]) -> bytes:
    if len(leaves) == 1:
        return leaves[0]
    k = 1
    while k * 2 < len(leaves):
        k *= 2
    return merkle._node(_reference_root(leaves[:k]), _reference_root(leaves[k:]))


@pytest.mark.parametrize("size", [1, 2, 3, 5, 8, 13, 64, 100])
def test_merkle_root_and_proofs(size: int) -> None:
    """The root matches RFC 6962's recursive definition and every audit path verifies."""
    leaves = [merkle.leaf_hash(str(i).encode()) for i in range(size)]
    root = merkle.root(leaves)
    assert root == _reference_root(leaves)
    for index in range(size):
        proof = merkle.inclusion_proof(leaves, index)
        assert merkle.verify_inclusion(leaves[index], index, size, proof, root)
        assert not merkle.verify_inclusion(merkle.leaf_hash(b"forged"), index, size, proof, root)


def test_merkle_empty_tree() -> None:
    """An empty bundle's root is SHA-256 of the empty string (RFC 6962)."""
    import hashlib

    assert merkle.root([]) == hashlib.sha256(b"").digest()


@pytest.mark.parametrize(
    "details",
    [
        {"big": 2**80, "small": -(2**63)},  # beyond 64 bits: read by the standard library
        {"id": 18446744073709551615},  # the largest 64-bit unsigned integer
        {"digits": "12345678901234567890123", "n": 7},  # a long digit run inside a string
        {"nested": {"a": [1, 2**70, "x"]}},
    ],
)
def test_decoded_lines_keep_every_integer_exactly(details: dict[str, object]) -> None:
    """Decoding a sealed line gives back the very values sealed, whatever parser reads it."""
    from dataclasses import replace

    record = replace(slack_message(4), details=details)
    line = sealed_line(9, encode_body(record))
    decoded = decode_line(line)
    assert decoded.details == details
    assert sealed_line(9, encode_body(decoded)) == line
