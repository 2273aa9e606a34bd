"""Record keys for Slack events (the key scheme is documented in docs/slack.md).

Anything that is a message in the channel's history is keyed on where it
lives, so live capture, backfill and export import of the same message
collapse into one record:

- message (any subtype that occupies a ``ts``): ``msg|channel|ts``
- edit (``message_changed``): ``edit|channel|ts|edited.ts`` (``event_ts`` if no ``edited``)
- delete (``message_deleted``): ``delete|channel|deleted_ts``
- thread-parent tombstone: ``tombstone|channel|ts``
- every other event: ``event|event_id``, so retries of one delivery are stored once
- a delivery translation failed on: ``untranslated|event_id`` (or the body's SHA-256)
- a verified payload without an inner event: ``payload|sha256(raw)``
"""

from __future__ import annotations

from archive.model import record_key

PLATFORM = "slack"


def message_key(team: str, channel: str, ts: str) -> str:
    return record_key(PLATFORM, team, "msg", channel, ts)


def tombstone_key(team: str, channel: str, ts: str) -> str:
    return record_key(PLATFORM, team, "tombstone", channel, ts)


def edit_key(team: str, channel: str, ts: str, version: str) -> str:
    """One edited version of a message (``version``: ``edited.ts``, else the event's ts)."""
    return record_key(PLATFORM, team, "edit", channel, ts, version)


def delete_key(team: str, channel: str, deleted_ts: str) -> str:
    return record_key(PLATFORM, team, "delete", channel, deleted_ts)


def event_key(team: str, identity: str, event_type: str) -> str:
    """A non-message event (``identity``: the envelope's event_id, else its ``event_ts``)."""
    return record_key(PLATFORM, team, "event", identity, event_type)


def untranslated_key(team: str, identity: str) -> str:
    return record_key(PLATFORM, team, "untranslated", identity)


def payload_key(team: str, raw_sha256: str) -> str:
    return record_key(PLATFORM, team, "payload", raw_sha256)
