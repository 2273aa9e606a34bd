"""Realistic records for tests and benchmarks, shaped like Slack Events API deliveries."""

from __future__ import annotations

import json
from datetime import UTC, datetime, timedelta

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

BASE_TIME = datetime(2026, 11, 2, 9, 30, tzinfo=UTC)


def slack_message(
    n: int,
    *,
    channel: str = "C0123ABCD",
    team: str = "T0001",
    text: str | None = None,
    kind: Kind = Kind.MESSAGE,
    attachments: tuple[Attachment, ...] = (),
    at: datetime | None = None,
) -> Record:
    """A Slack ``message`` event as an Events API envelope, and its record."""
    moment = at or BASE_TIME + timedelta(seconds=n)
    ts = f"{moment.timestamp():.6f}"
    body = text if text is not None else f"Quarterly numbers, draft {n}: revenue up 4% q/q"
    envelope = {
        "token": "verification-token-unused",
        "team_id": team,
        "api_app_id": "A0CHATKEEP",
        "event": {
            "type": "message",
            "channel": channel,
            "user": f"U{n % 50:07d}",
            "text": body,
            "ts": ts,
            "event_ts": ts,
            "channel_type": "channel",
            "client_msg_id": f"5b2f0c3e-{n:04d}-4f6e-9d7a-1c2b3a4d5e6f"[:36],
            "blocks": [
                {
                    "type": "rich_text",
                    "block_id": f"b{n}",
                    "elements": [
                        {"type": "rich_text_section", "elements": [{"type": "text", "text": body}]}
                    ],
                }
            ],
        },
        "type": "event_callback",
        "event_id": f"Ev{n:010d}",
        "event_time": int(moment.timestamp()),
        "authorizations": [{"team_id": team, "user_id": "UBOT0001", "is_bot": True}],
        "is_ext_shared_channel": False,
    }
    raw = json.dumps(envelope, separators=(",", ":")).encode()
    return Record(
        key=record_key("slack", team, f"Ev{n:010d}"),
        platform=Platform.SLACK,
        workspace=team,
        conversation=channel,
        conversation_name="deals",
        kind=kind,
        source=Source.EVENTS_API,
        message_id=ts,
        actor=Actor(
            id=f"U{n % 50:07d}", name=f"Trader {n % 50}", email=f"trader{n % 50}@example.com"
        ),
        occurred_at=moment,
        captured_at=moment + timedelta(milliseconds=120),
        text=body,
        attachments=attachments,
        raw=raw,
    )


def stored_attachment(data: bytes, name: str = "term-sheet.pdf") -> Attachment:
    import hashlib

    return Attachment(
        name=name,
        state=AttachmentState.STORED,
        sha256=hashlib.sha256(data).hexdigest(),
        mime="application/pdf",
        size=len(data),
        ref="F0TERMSHEET",
    )
