"""A record as the partition store keeps it, and as its render workers read it back.

The store keeps a sealed line's values (``codec.line_fields``) without ``raw`` as
marshal bytes (``pack``). A render worker reads each back as a ``StoredRecord``
(``unpack``): the fields folding reads (``fold.FoldedRecord``), in a named tuple.
Building a frozen ``Record`` of 19 fields, and an ``Actor`` for each, cost most
of the time of reading a slice back; a tuple costs a fraction of it, and each
distinct actor of a slice is built once (``Actors``).
"""

from __future__ import annotations

import marshal
from collections.abc import Callable, Mapping
from datetime import datetime
from typing import Any, NamedTuple

from archive.codec import parse_time
from archive.model import Actor, Attachment, AttachmentState, Kind, Platform

_PLATFORMS = {p.value: p for p in Platform}
_KINDS = {k.value: k for k in Kind}


class StoredRecord(NamedTuple):
    """What folding reads of a record (``fold.FoldedRecord``), read back from the partition."""

    key: str
    seq: int
    platform: Platform
    workspace: str
    conversation: str
    conversation_name: str | None
    kind: Kind
    occurred_at: datetime
    message_id: str | None
    thread_id: str | None
    reply_to: str | None
    actor: Actor | None
    text: str | None
    previous_text: str | None
    attachments: tuple[Attachment, ...]
    details: Mapping[str, Any]


def pack(data: dict[str, Any]) -> bytes:
    """A record's sealed JSON object (without ``raw``) as marshal bytes of plain values.

    marshal is the fastest serializer of plain values in the standard library, and
    loads back what ``record_from_dict`` would build from, without parsing JSON again.
    The bytes only ever travel between this process and its own private temporary
    files, so nothing untrusted is ever loaded.
    """
    actor = data.get("actor")
    return marshal.dumps(
        (
            data["key"],
            data["platform"],
            data["workspace"],
            data["conversation"],
            data.get("conversation_name"),
            data["kind"],
            data["source"],
            data["occurred_at"],
            data["captured_at"],
            data.get("message_id"),
            data.get("thread_id"),
            data.get("reply_to"),
            None
            if actor is None
            else (actor["id"], actor.get("name"), actor.get("email"), actor.get("is_bot", False)),
            data.get("text"),
            data.get("previous_text"),
            tuple(
                (a["name"], a["state"], a["sha256"], a["mime"], a["size"], a["reason"], a["ref"])
                for a in data.get("attachments") or ()
            ),
            data.get("details") or {},
        )
    )


ActorValues = tuple[str, str | None, str | None, bool]


class Actors:
    """The actors of the records read back, each distinct one built once.

    An actor a record names by id only gets the name another record of the export
    gives it (``name_of``), as every format shows it.
    """

    def __init__(self, name_of: Callable[[str], str | None]) -> None:
        self._name_of = name_of
        self._known: dict[ActorValues, Actor] = {}

    def __call__(self, values: ActorValues) -> Actor:
        actor = self._known.get(values)
        if actor is None:
            actor_id, name, email, is_bot = values
            found = None if name else self._name_of(actor_id)
            actor = Actor(actor_id, name if found is None else found, email, is_bot)
            self._known[values] = actor
        return actor


def unpack(body: bytes, seq: int, actors: Actors) -> StoredRecord:
    """The record ``pack`` wrote (its source, capture time and raw payload left out)."""
    values: tuple[Any, ...] = marshal.loads(body)  # noqa: S302 (our own temporary file)
    actor = values[12]
    return StoredRecord(
        values[0],
        seq,
        _PLATFORMS[values[1]],
        values[2],
        values[3],
        values[4],
        _KINDS[values[5]],
        parse_time(values[7]),
        values[9],
        values[10],
        values[11],
        None if actor is None else actors(actor),
        values[13],
        values[14],
        tuple(Attachment(a[0], AttachmentState(a[1]), *a[2:]) for a in values[15]),
        values[16],
    )
