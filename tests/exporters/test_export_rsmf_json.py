"""RSMF: the manifest JSON written by orjson, and the body's times, as the slow ways give them."""

from __future__ import annotations

import json

from exporters.formats.rsmf import _compact


def test_manifest_json_bytes_are_the_standard_librarys() -> None:
    """The manifest is written by orjson, byte for byte as ``json.dumps`` (no ASCII escapes,
    no spaces) would write it, integers beyond 64 bits included."""
    for value in (
        {"body": "Ünïcödé ✓ 日本語 😀 \u2028 \x7f", "ctl": '\x00\x01\t\n\r\x1f"\\/'},
        {"participants": [{"id": "U1", "display": None, "bot": True}], "n": -(2**63)},
        {"file_id": 2**70 + 1, "nested": [[], {}, [1, [2, [3]]]]},
    ):
        expected = json.dumps(value, ensure_ascii=False, separators=(",", ":")).encode("utf-8")
        assert _compact(value) == expected


def test_transcript_times_read_as_the_parsed_time_formatted() -> None:
    """The body's times, cut from the manifest's stamps, equal parsing and formatting them."""
    from datetime import UTC, datetime, timedelta

    from archive.codec import format_time, parse_time
    from exporters.formats.rsmf_body import _time

    moment = datetime(1000, 1, 1, tzinfo=UTC)
    while moment.year < 9999:
        stamp = format_time(moment)
        assert _time(stamp) == parse_time(stamp).strftime("%Y-%m-%d %H:%M:%S UTC")
        moment += timedelta(days=97, seconds=3_671, microseconds=123_457)
    for stamp in ("2026-03-01T09:30:00Z", "2026-03-01T09:30:00.5+02:00"):
        assert _time(stamp) == parse_time(stamp).strftime("%Y-%m-%d %H:%M:%S UTC")
