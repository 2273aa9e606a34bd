"""The RSMF manifest JSON is written by orjson with the standard library's bytes."""

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
