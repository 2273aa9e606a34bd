"""Review decisions as ``review_decision`` records: captured into the journal, sealed.

A decision (``cleared``, ``escalated``, ``needs_follow_up``) or an assignment is one record
(platform ``chatkeeper``, workspace the stream, conversation ``supervision``, source
``admin``) whose raw payload is the decision as made, canonical JSON::

    {"action": "decide" | "assign", "decision_id", "item", "record_key", "policy",
     "policy_version", "policy_hash", "decision", "assignee", "comment", "reviewer",
     "decided_at", "supersedes"}

It is appended to the journal (the blocking path CLI commands take; ``archive.capture`` is
the event loop's), so it is sealed, signed and verified like a message. A decision is never edited: a later one names the one it supersedes, and the
item's state is its latest decision.
"""

from __future__ import annotations

import json
import uuid
from collections.abc import Sequence
from typing import Any

from archive.clock import Clock
from archive.codec import canonical_json, format_time, parse_time
from archive.errors import ConfigError
from archive.journal import RecordLog
from archive.model import Actor, Kind, Platform, Record, Source, record_key
from supervision.queue import QueueStore

CLEARED = "cleared"
ESCALATED = "escalated"
NEEDS_FOLLOW_UP = "needs_follow_up"
DECISIONS = (CLEARED, ESCALATED, NEEDS_FOLLOW_UP)
CONVERSATION = "supervision"


def decision_record(stream: str, payload: dict[str, Any]) -> Record:
    """The ``review_decision`` record of one decision payload."""
    moment = parse_time(payload["decided_at"])
    summary = (
        f"review item {payload['item']} assigned to {payload['assignee'] or 'nobody'}"
        if payload["action"] == "assign"
        else f"review item {payload['item']} {payload['decision']}"
    )
    return Record(
        key=record_key(
            Platform.CHATKEEPER.value, stream, "review_decision", payload["decision_id"]
        ),
        platform=Platform.CHATKEEPER,
        workspace=stream,
        conversation=CONVERSATION,
        conversation_name="review decisions",
        kind=Kind.REVIEW_DECISION,
        source=Source.ADMIN,
        occurred_at=moment,
        captured_at=moment,
        raw=canonical_json(payload),
        actor=Actor(id=payload["reviewer"]),
        text=summary,
        details={k: v for k, v in payload.items() if k != "comment"},
    )


def decision_from_record(record: Record, bundle: int) -> dict[str, Any]:
    """The queue's row for a sealed ``review_decision`` record."""
    payload = json.loads(record.raw)
    return {
        "id": payload["decision_id"],
        "item": payload["item"],
        "action": payload["action"],
        "decision": payload.get("decision"),
        "assignee": payload.get("assignee"),
        "reviewer": payload["reviewer"],
        "comment": payload.get("comment", ""),
        "policy_hash": payload.get("policy_hash"),
        "decided_at": payload["decided_at"],
        "supersedes": payload.get("supersedes"),
        "record_key": record.key,
        "bundle": bundle,
    }


def latest_decision(queue: QueueStore, item: str) -> str | None:
    rows = queue.query(
        "SELECT id FROM decisions WHERE item = ? AND action = 'decide' "
        "ORDER BY decided_at DESC, id DESC LIMIT 1",
        (item,),
    )
    return str(rows[0][0]) if rows else None


def record_decisions(
    journal: RecordLog,
    queue: QueueStore,
    stream: str,
    items: Sequence[dict[str, Any]],
    *,
    reviewer: str,
    clock: Clock,
    comment: str,
    decision: str | None = None,
    assignee: str | None = None,
) -> list[dict[str, Any]]:
    """Decide (``decision``) or assign (``assignee``) each item; returns the queue rows.

    The records are durable in the journal before the queue shows them; if the queue write
    fails, screening the sealed bundle brings the decisions back.
    """
    if not reviewer:
        raise ConfigError("a decision needs a reviewer (--reviewer or supervision.reviewer)")
    if decision is not None and decision not in DECISIONS:
        raise ConfigError(f"decision {decision!r} is not one of {', '.join(DECISIONS)}")
    if decision is not None and not comment.strip():
        raise ConfigError("a decision needs a comment (--comment)")
    now = format_time(clock.now())
    payloads = []
    for item in items:
        payloads.append(
            {
                "action": "decide" if decision is not None else "assign",
                "decision_id": uuid.uuid4().hex,
                "item": item["id"],
                "record_key": item["record_key"],
                "policy": item["policy"],
                "policy_version": item["policy_version"],
                "policy_hash": item["policy_hash"],
                "decision": decision,
                "assignee": assignee,
                "comment": comment,
                "reviewer": reviewer,
                "decided_at": now,
                "supersedes": latest_decision(queue, item["id"]) if decision else None,
            }
        )
    records = [decision_record(stream, p) for p in payloads]
    if records:
        journal.append(records)  # durable before the queue shows them
    rows = [decision_from_record(r, 0) | {"bundle": None} for r in records]
    with queue.transaction() as conn:
        queue.add_decisions(conn, rows)
    return rows
