"""A realistic sample conversation for the demo, as Slack Events API deliveries.

Shaped on the documented fields (reference/slack.md): an envelope per event
with ``event_id``, ``team_id``, ``event_time`` and the inner event.
"""

from __future__ import annotations

import hashlib
import json
from collections.abc import Iterator
from datetime import datetime, timedelta
from typing import Any

from archive.model import (
    Actor,
    Attachment,
    AttachmentState,
    Kind,
    Platform,
    Record,
    Source,
    record_key,
)

TEAM = "T0DEMO0001"
CHANNEL = "C0DEMODEALS"
CHANNEL_NAME = "fx-desk"
PEOPLE = {
    "U0ALICE01": Actor("U0ALICE01", "Alice Moreau", "alice@example.com"),
    "U0BOB0002": Actor("U0BOB0002", "Bob Okafor", "bob@example.com"),
    "U0CHEN003": Actor("U0CHEN003", "Chen Wei", "chen@example.com"),
}
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

    def record(n: int, kind: Kind, user: str, event: dict[str, Any], **fields: Any) -> Record:
        event_id, raw = _envelope(n, ts[n], event)
        return Record(
            key=record_key("slack", TEAM, event_id),
            platform=Platform.SLACK,
            workspace=TEAM,
            conversation=CHANNEL,
            conversation_name=CHANNEL_NAME,
            kind=kind,
            source=Source.EVENTS_API,
            actor=PEOPLE[user],
            occurred_at=ts[n],
            captured_at=ts[n] + timedelta(milliseconds=180),
            raw=raw,
            **fields,
        )

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
        Kind.MESSAGE,
        "U0ALICE01",
        msg("U0ALICE01", "Can we price 25m EUR/USD 1M forward?", ts[0]),
        message_id=root,
        text="Can we price 25m EUR/USD 1M forward?",
    )
    yield record(
        1,
        Kind.MEMBER_JOINED,
        "U0CHEN003",
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
        Kind.MESSAGE,
        "U0BOB0002",
        msg("U0BOB0002", "1.0842 for 15 Dec, firm for 5 minutes", ts[2], thread_ts=root),
        message_id=slack_ts(ts[2]),
        thread_id=root,
        text="1.0842 for 15 Dec, firm for 5 minutes",
    )
    yield record(
        3,
        Kind.EDIT,
        "U0BOB0002",
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
        message_id=slack_ts(ts[2]),
        thread_id=root,
        text="1.0845 for 15 Dec, firm for 5 minutes",
        previous_text="1.0842 for 15 Dec, firm for 5 minutes",
    )
    yield record(
        4,
        Kind.MESSAGE,
        "U0ALICE01",
        msg("U0ALICE01", "Done. Booking it.", ts[4], thread_ts=root),
        message_id=slack_ts(ts[4]),
        thread_id=root,
        text="Done. Booking it.",
    )
    yield record(
        5,
        Kind.REACTION_ADDED,
        "U0BOB0002",
        {
            "type": "reaction_added",
            "user": "U0BOB0002",
            "reaction": "handshake",
            "item_user": "U0ALICE01",
            "item": {"type": "message", "channel": CHANNEL, "ts": slack_ts(ts[4])},
            "event_ts": slack_ts(ts[5]),
        },
        message_id=slack_ts(ts[4]),
        details={"reaction": "handshake"},
    )
    yield record(
        6,
        Kind.MESSAGE,
        "U0CHEN003",
        msg("U0CHEN003", "call me on my cell about the fee", ts[6]),
        message_id=slack_ts(ts[6]),
        text="call me on my cell about the fee",
    )
    yield record(
        7,
        Kind.DELETE,
        "U0CHEN003",
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
        message_id=slack_ts(ts[6]),
        previous_text="call me on my cell about the fee",
    )
    digest = hashlib.sha256(TERM_SHEET).hexdigest()
    yield record(
        8,
        Kind.MESSAGE,
        "U0ALICE01",
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
        message_id=slack_ts(ts[8]),
        text="Signed term sheet attached",
        attachments=(
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
        Kind.MESSAGE,
        "U0BOB0002",
        msg("U0BOB0002", "Confirmed on our side 👍", ts[9]),
        message_id=slack_ts(ts[9]),
        text="Confirmed on our side 👍",
    )
