"""What a Slack export message says beyond its current text: reactions, edits, deletion, pins.

Slack's own exports carry ``reactions`` (with who reacted) and an ``edited``
marker; an export written by chatkeeper also carries the full history under
its ``chatkeeper`` key (every edit with the text before and after, the
deletion, the pinned message of a ``pinned_item``). ``history_records`` turns
those into the records live capture would have made, so a re-import folds to
the same conversation: edits and deletions get live capture's keys
(``edit|channel|ts|edited.ts``, ``delete|channel|ts``); reactions, which live
capture keys by event id, get ``export_reaction|channel|ts|name|user``.
"""

from __future__ import annotations

from collections.abc import Iterator, Mapping
from dataclasses import replace
from typing import Any

from archive.codec import parse_time
from archive.model import Actor, Kind, Record, record_key
from bots.slack.payload import SLACK, mapping_of, text_of


def _actor(actors: Mapping[str, Actor], user: object) -> Actor | None:
    user_id = text_of(user)
    if user_id is None:
        return None
    return actors.get(user_id) or Actor(user_id)


def _ts(moment: str) -> str:
    return f"{parse_time(moment).timestamp():.6f}"


def original_message(record: Record, message: Mapping[str, Any]) -> Record:
    """The message record with its text before the first edit, when the history says so."""
    edits = mapping_of(message.get("chatkeeper")).get("edits")
    if isinstance(edits, list) and edits and isinstance(edits[0], Mapping):
        previous = text_of(edits[0].get("previous"))
        if previous is not None:
            return replace(record, text=previous)
    return record


def pin_record(record: Record, message: Mapping[str, Any]) -> Record | None:
    """A ``pinned_item`` written by chatkeeper, as the pin record it came from."""
    pinned = text_of(mapping_of(message.get("chatkeeper")).get("pinned_message"))
    if message.get("subtype") != "pinned_item" or pinned is None:
        return None
    return replace(
        record,
        key=record_key(SLACK, record.workspace, "export_pin", record.conversation, pinned),
        kind=Kind.PIN_ADDED,
        message_id=pinned,
        thread_id=None,
        reply_to=None,
        text=None,
    )


def history_records(
    record: Record, message: Mapping[str, Any], actors: Mapping[str, Actor]
) -> Iterator[Record]:
    """Reaction, edit and deletion records for one imported message record."""
    team, channel, ts = record.workspace, record.conversation, record.message_id or ""
    base = replace(record, attachments=(), details={"imported_from": "slack_export"})
    reactions = message.get("reactions")
    for reaction in reactions if isinstance(reactions, list) else []:
        entry = mapping_of(reaction)
        name = text_of(entry.get("name"))
        users = entry.get("users")
        for user in users if isinstance(users, list) and name else []:
            yield replace(
                base,
                key=record_key(SLACK, team, "export_reaction", channel, ts, name or "", str(user)),
                kind=Kind.REACTION_ADDED,
                actor=_actor(actors, user),
                text=None,
                details={**base.details, "reaction": name},
            )
    history = mapping_of(message.get("chatkeeper"))
    edits = history.get("edits")
    for edit in edits if isinstance(edits, list) else []:
        entry = mapping_of(edit)
        at = text_of(entry.get("at"))
        if at is None:
            continue
        edited_ts = _ts(at)
        yield replace(
            base,
            key=record_key(SLACK, team, "edit", channel, ts, edited_ts),
            kind=Kind.EDIT,
            occurred_at=parse_time(at),
            actor=_actor(actors, entry.get("user")),
            text=text_of(entry.get("new")),
            previous_text=text_of(entry.get("previous")),
            details={**base.details, "edited_ts": edited_ts},
        )
    if history.get("deleted") is True:
        at = text_of(history.get("deleted_at"))
        yield replace(
            base,
            key=record_key(SLACK, team, "delete", channel, ts),
            kind=Kind.DELETE,
            occurred_at=parse_time(at) if at else record.occurred_at,
            actor=_actor(actors, history.get("deleted_by")),
            text=None,
            previous_text=text_of(message.get("text")),
        )
