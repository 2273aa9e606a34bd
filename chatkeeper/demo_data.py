"""A realistic sample conversation for the demo, as Slack Events API deliveries.

Shaped on the documented fields (reference/slack.md): an envelope per event
with ``event_id``, ``team_id``, ``event_time`` and the inner event. Each
delivery is turned into its record by the Slack adapter's own translation
(``bots.slack.translate.event_record``), so the records carry the keys live
capture would give the same events, and a Slack export of the same messages
imports as duplicates. Everything is fixed (ids, times, snapshots): a second
demo run stores nothing.
"""

from __future__ import annotations

import hashlib
import json
from collections.abc import Iterator
from dataclasses import replace
from datetime import datetime, timedelta
from typing import Any

from archive.model import Actor, Attachment, AttachmentState, Record, Source
from bots.slack.payload import Delivery, Snapshot
from bots.slack.translate import event_record

TEAM = "T0DEMO0001"
CHANNEL = "C0DEMODEALS"
CHANNEL_NAME = "fx-desk"
PEOPLE = {
    "U0ALICE01": Actor("U0ALICE01", "Alice Moreau", "alice@example.com"),
    "U0BOB0002": Actor("U0BOB0002", "Bob Okafor", "bob@example.com"),
    "U0CHEN003": Actor("U0CHEN003", "Chen Wei", "chen@example.com"),
}
SNAPSHOT = Snapshot(
    actors=PEOPLE, conversation_name=CHANNEL_NAME, conversation_type="public_channel"
)
TERM_SHEET = (
    b"%PDF-1.7\n% chatkeeper demo term sheet\n1 0 obj << /Type /Catalog >> endobj\n"
    b"EUR/USD forward, notional 25,000,000, value date 2026-12-15, rate 1.0842\n%%EOF\n"
)


def _envelope(n: int, at: datetime, event: dict[str, Any]) -> tuple[str, bytes]:
    event_id = f"Ev0DEMO{n:05d}"
    body = {
        "token": "unused-verification-token",
        "team_id": TEAM,
        "api_app_id": "A0CHATKEEP",
        "event": event,
        "type": "event_callback",
        "event_id": event_id,
        "event_time": int(at.timestamp()),
        "authorizations": [{"team_id": TEAM, "user_id": "U0CHATBOT", "is_bot": True}],
        "is_ext_shared_channel": False,
    }
    return event_id, json.dumps(body, separators=(",", ":")).encode()


def sample_conversation(start: datetime) -> Iterator[Record]:
    """Ten events: messages, a thread, an edit, a delete, a reaction, a join and a file."""
    ts = [start + timedelta(minutes=i) for i in range(10)]

    def slack_ts(at: datetime) -> str:
        return f"{at.timestamp():.6f}"

    def record(n: int, event: dict[str, Any], stored: tuple[Attachment, ...] = ()) -> Record:
        event_id, raw = _envelope(n, ts[n], event)
        delivery = Delivery(
            team=TEAM,
            source=Source.CAPTURE_API,  # handed to capture(), not received over HTTP
            raw=raw,
            captured_at=ts[n] + timedelta(milliseconds=180),
            event_id=event_id,
            event_time=ts[n].replace(microsecond=0),
        )
        translated = event_record(json.loads(raw), delivery, SNAPSHOT)
        return replace(translated, attachments=stored) if stored else translated

    def msg(user: str, text: str, at: datetime, **extra: Any) -> dict[str, Any]:
        return {
            "type": "message",
            "channel": CHANNEL,
            "user": user,
            "text": text,
            "ts": slack_ts(at),
            "event_ts": slack_ts(at),
            "channel_type": "channel",
            **extra,
        }

    root = slack_ts(ts[0])
    yield record(
        0,
        msg("U0ALICE01", "Can we price 25m EUR/USD 1M forward?", ts[0]),
    )
    yield record(
        1,
        {
            "type": "member_joined_channel",
            "user": "U0CHEN003",
            "channel": CHANNEL,
            "channel_type": "C",
            "team": TEAM,
            "inviter": "U0ALICE01",
            "event_ts": slack_ts(ts[1]),
        },
    )
    yield record(
        2,
        msg("U0BOB0002", "1.0842 for 15 Dec, firm for 5 minutes", ts[2], thread_ts=root),
    )
    yield record(
        3,
        {
            "type": "message",
            "subtype": "message_changed",
            "channel": CHANNEL,
            "hidden": True,
            "ts": slack_ts(ts[3]),
            "event_ts": slack_ts(ts[3]),
            "channel_type": "channel",
            "message": {
                **msg("U0BOB0002", "1.0845 for 15 Dec, firm for 5 minutes", ts[2], thread_ts=root),
                "edited": {"user": "U0BOB0002", "ts": slack_ts(ts[3])},
            },
            "previous_message": msg(
                "U0BOB0002", "1.0842 for 15 Dec, firm for 5 minutes", ts[2], thread_ts=root
            ),
        },
    )
    yield record(
        4,
        msg("U0ALICE01", "Done. Booking it.", ts[4], thread_ts=root),
    )
    yield record(
        5,
        {
            "type": "reaction_added",
            "user": "U0BOB0002",
            "reaction": "handshake",
            "item_user": "U0ALICE01",
            "item": {"type": "message", "channel": CHANNEL, "ts": slack_ts(ts[4])},
            "event_ts": slack_ts(ts[5]),
        },
    )
    yield record(
        6,
        msg("U0CHEN003", "call me on my cell about the fee", ts[6]),
    )
    yield record(
        7,
        {
            "type": "message",
            "subtype": "message_deleted",
            "channel": CHANNEL,
            "hidden": True,
            "deleted_ts": slack_ts(ts[6]),
            "ts": slack_ts(ts[7]),
            "event_ts": slack_ts(ts[7]),
            "channel_type": "channel",
            "previous_message": msg("U0CHEN003", "call me on my cell about the fee", ts[6]),
        },
    )
    digest = hashlib.sha256(TERM_SHEET).hexdigest()
    yield record(
        8,
        msg(
            "U0ALICE01",
            "Signed term sheet attached",
            ts[8],
            subtype="file_share",
            files=[
                {
                    "id": "F0TERMSHT",
                    "name": "term-sheet.pdf",
                    "mimetype": "application/pdf",
                    "filetype": "pdf",
                    "size": len(TERM_SHEET),
                    "mode": "hosted",
                }
            ],
        ),
        stored=(
            Attachment(
                name="term-sheet.pdf",
                state=AttachmentState.STORED,
                sha256=digest,
                mime="application/pdf",
                size=len(TERM_SHEET),
                ref="F0TERMSHT",
            ),
        ),
    )
    yield record(
        9,
        msg("U0BOB0002", "Confirmed on our side 👍", ts[9]),
    )
