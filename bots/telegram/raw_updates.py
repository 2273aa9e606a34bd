"""Exact bytes of each update inside a ``getUpdates`` response.

Polling returns ``{"ok":true,"result":[update, update, ...]}``. To keep every
update verbatim (rule 2: raw first) we do not re-serialize the parsed objects:
we walk the response and slice out the exact text of each array element, which
re-encodes to the exact UTF-8 bytes Telegram sent.
"""

from __future__ import annotations

import json
from typing import Any

from archive.errors import PayloadError

_DECODER = json.JSONDecoder()
_WHITESPACE = " \t\r\n"


def _skip(text: str, index: int) -> int:
    while index < len(text) and text[index] in _WHITESPACE:
        index += 1
    return index


def _expect(text: str, index: int, char: str) -> int:
    index = _skip(text, index)
    if index >= len(text) or text[index] != char:
        raise PayloadError(f"expected {char!r} at offset {index}")
    return index + 1


def _split_array(text: str, index: int) -> tuple[list[tuple[bytes, Any]], int]:
    index = _expect(text, index, "[")
    items: list[tuple[bytes, Any]] = []
    index = _skip(text, index)
    if index < len(text) and text[index] == "]":
        return items, index + 1
    while True:
        index = _skip(text, index)
        value, end = _DECODER.raw_decode(text, index)
        items.append((text[index:end].encode("utf-8"), value))
        index = _skip(text, end)
        if index < len(text) and text[index] == ",":
            index += 1
            continue
        return items, _expect(text, index, "]")


def split_updates(payload: bytes) -> list[tuple[bytes, dict[str, Any]]]:
    """``(exact bytes, parsed update)`` for each update in a getUpdates response."""
    try:
        text = payload.decode("utf-8")
        index = _expect(text, 0, "{")
        result: list[tuple[bytes, Any]] | None = None
        while True:
            index = _skip(text, index)
            if text[index] == "}":
                break
            key, index = _DECODER.raw_decode(text, index)
            index = _expect(text, index, ":")
            index = _skip(text, index)
            if key == "result" and text[index] == "[":
                result, index = _split_array(text, index)
            else:
                _, index = _DECODER.raw_decode(text, index)
            index = _skip(text, index)
            if text[index] == ",":
                index += 1
    except (UnicodeDecodeError, json.JSONDecodeError, IndexError) as exc:
        raise PayloadError(f"getUpdates response is not valid JSON: {exc}") from exc
    if result is None:
        raise PayloadError("getUpdates response has no result array")
    updates: list[tuple[bytes, dict[str, Any]]] = []
    for raw, value in result:
        if not isinstance(value, dict) or not isinstance(value.get("update_id"), int):
            raise PayloadError("an update without an integer update_id")
        updates.append((raw, value))
    return updates
