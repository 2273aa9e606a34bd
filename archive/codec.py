"""Canonical JSON for records: the exact bytes that are hashed and sealed.

A record *body* is the record without ``seq``, serialized with sorted keys,
no insignificant white space and UTF-8 (for our data this is RFC 8785 JCS:
there are no floats). A sealed *line* wraps a body with the seq the journal
assigned: ``{"record":<body>,"seq":<n>}``, which is itself canonical because
``record`` sorts before ``seq``. Lines are built by concatenation so that
sealing never re-serializes a record.
"""

from __future__ import annotations

import base64
import json
from datetime import UTC, datetime
from typing import Any

import orjson

from archive.model import (
    Actor,
    Attachment,
    AttachmentState,
    Kind,
    Platform,
    Record,
    Source,
)


def canonical_json(value: Any) -> bytes:
    """Serialize ``value`` canonically (sorted keys, compact, UTF-8).

    orjson and the standard library give the same bytes for our values (strings,
    integers, booleans, null, lists, objects); orjson is several times faster on
    the capture path. Values orjson refuses (integers beyond 64 bits) fall back.
    """
    try:
        return orjson.dumps(value, option=orjson.OPT_SORT_KEYS)
    except TypeError:
        return json.dumps(
            value, sort_keys=True, separators=(",", ":"), ensure_ascii=False, allow_nan=False
        ).encode("utf-8")


#: What ``isoformat(timespec="microseconds")`` writes, without the offset; %-formatting of
#: the fields is about four times as fast (two times per record on the capture path).
_ISO_UTC = "%04d-%02d-%02dT%02d:%02d:%02d.%06dZ"


def format_time(moment: datetime) -> str:
    """ISO 8601 in UTC with microseconds and a ``Z``: sorts as text."""
    if moment.tzinfo is UTC:  # the capture path: formatted from the fields at once
        return _ISO_UTC % (
            moment.year,
            moment.month,
            moment.day,
            moment.hour,
            moment.minute,
            moment.second,
            moment.microsecond,
        )
    if moment.utcoffset():
        moment = moment.astimezone(UTC)
    return moment.replace(tzinfo=None).isoformat(timespec="microseconds") + "Z"


def parse_time(text: str) -> datetime:
    if text.endswith("Z"):  # what format_time writes: already UTC
        return datetime.fromisoformat(text)
    return datetime.fromisoformat(text).astimezone(UTC)


def _raw_fields(raw: bytes) -> dict[str, str]:
    try:
        return {"raw": raw.decode("utf-8"), "raw_encoding": "utf-8"}
    except UnicodeDecodeError:
        return {"raw": base64.b64encode(raw).decode("ascii"), "raw_encoding": "base64"}


def _decode_raw(data: dict[str, Any]) -> bytes:
    if data["raw_encoding"] == "utf-8":
        return str(data["raw"]).encode("utf-8")
    return base64.b64decode(data["raw"])


def record_to_dict(record: Record) -> dict[str, Any]:
    """The record as plain JSON values (without ``seq``)."""
    actor = record.actor
    return {
        "key": record.key,
        "platform": record.platform.value,
        "workspace": record.workspace,
        "conversation": record.conversation,
        "conversation_name": record.conversation_name,
        "kind": record.kind.value,
        "source": record.source.value,
        "message_id": record.message_id,
        "thread_id": record.thread_id,
        "reply_to": record.reply_to,
        "actor": None
        if actor is None
        else {"id": actor.id, "name": actor.name, "email": actor.email, "is_bot": actor.is_bot},
        "occurred_at": format_time(record.occurred_at),
        "captured_at": format_time(record.captured_at),
        "text": record.text,
        "previous_text": record.previous_text,
        "attachments": [
            {
                "name": a.name,
                "state": a.state.value,
                "sha256": a.sha256,
                "mime": a.mime,
                "size": a.size,
                "reason": a.reason,
                "ref": a.ref,
            }
            for a in record.attachments
        ],
        "details": dict(record.details),
        **_raw_fields(record.raw),
    }


_PLATFORMS = {p.value: p for p in Platform}
_KINDS = {k.value: k for k in Kind}
_SOURCES = {s.value: s for s in Source}


def record_from_dict(data: dict[str, Any], seq: int | None = None) -> Record:
    actor = data.get("actor")
    platform, kind, source = data["platform"], data["kind"], data["source"]
    return Record(
        key=data["key"],
        platform=_PLATFORMS.get(platform) or Platform(platform),
        workspace=data["workspace"],
        conversation=data["conversation"],
        conversation_name=data.get("conversation_name"),
        kind=_KINDS.get(kind) or Kind(kind),
        source=_SOURCES.get(source) or Source(source),
        message_id=data.get("message_id"),
        thread_id=data.get("thread_id"),
        reply_to=data.get("reply_to"),
        actor=None if actor is None else Actor(**actor),
        occurred_at=parse_time(data["occurred_at"]),
        captured_at=parse_time(data["captured_at"]),
        text=data.get("text"),
        previous_text=data.get("previous_text"),
        attachments=tuple(
            Attachment(**{**a, "state": AttachmentState(a["state"])})
            for a in data.get("attachments", [])
        ),
        details=data.get("details") or {},
        raw=_decode_raw(data),
        seq=seq,
    )


def encode_body(record: Record) -> bytes:
    """Canonical body bytes of a record (what the journal stores)."""
    return canonical_json(record_to_dict(record))


def decode_body(body: bytes, seq: int | None = None) -> Record:
    data = _loads(body)
    if not isinstance(data, dict):
        raise ValueError("record body is not a JSON object")
    return record_from_dict(data, seq)


def sealed_line(seq: int, body: bytes) -> bytes:
    """The canonical sealed line for a journal row (no trailing newline)."""
    return b'{"record":%b,"seq":%d}' % (body, seq)


def line_body(line: bytes) -> bytes:
    """The record body of a sealed line: what ``sealed_line`` was given."""
    return line[len(b'{"record":') : line.rfind(b',"seq":')]


def line_seq(line: bytes) -> int:
    """The seq at the end of a sealed line, ``...,"seq":123}``."""
    head, sep, tail = line.rpartition(b',"seq":')
    if not sep or not tail.endswith(b"}") or not head.startswith(b'{"record":{'):
        raise ValueError("not a sealed line")
    return int(tail[:-1])


_DIGITS_AS_ZERO = bytes.maketrans(b"123456789", b"000000000")
_LONG_NUMBER = b"0" * 20


def _loads(data: bytes) -> Any:
    """JSON text parsed by orjson (several times faster), else by the standard library.

    orjson reads an integer beyond 64 bits as a float, so text with a run of 20
    digits anywhere (in a string too: cheap to look for, and rare) goes to the
    standard library, as does text orjson refuses; not JSON raises ValueError.
    """
    if _LONG_NUMBER not in data.translate(_DIGITS_AS_ZERO):
        try:
            return orjson.loads(data)
        except orjson.JSONDecodeError:
            pass
    return json.loads(data)


def _line_object(line: bytes) -> dict[str, Any]:
    """A sealed line parsed: ``{"record": {...}, "seq": n}``, or ValueError."""
    data = _loads(line)
    if not isinstance(data, dict) or set(data) != {"record", "seq"}:
        raise ValueError("not a chatkeeper sealed line")
    return data


def decode_line(line: bytes) -> Record:
    """Parse one sealed line back into a record with its seq."""
    data = _line_object(line)
    return record_from_dict(data["record"], int(data["seq"]))


def line_fields(line: bytes) -> tuple[dict[str, Any], int]:
    """A sealed line's record as its JSON object (what ``record_from_dict`` takes), and its seq.

    For readers that look at a few fields of many records and build few of them.
    """
    data = _line_object(line)
    record = data["record"]
    if not isinstance(record, dict):
        raise ValueError("not a chatkeeper sealed line")
    return record, int(data["seq"])


def line_kind_and_key(line: bytes) -> tuple[str, str]:
    """The ``kind`` and ``key`` of a sealed line's record, without building the record."""
    record, _ = line_fields(line)
    return str(record["kind"]), str(record["key"])
