"""Officer actions as archived records: who looked at what, sealed like any message.

Every action (sign-in and its failures, each search, each conversation
opened, each export and download, account changes) becomes one
``officer_action`` record captured through ``archive.capture.capture``
before the console answers: if the journal cannot make it durable, the
officer gets an error and sees nothing (fail closed). The record's ``raw``
payload is the action as made, as canonical JSON; passwords, session ids
and message bodies are never part of it.
"""

from __future__ import annotations

import json
import secrets
from collections.abc import Mapping
from typing import Any

import structlog

from archive.capture import capture
from archive.clock import Clock
from archive.journal import Journal
from archive.model import Actor, Kind, Platform, Record, Source, record_key

WORKSPACE = "console"
CONVERSATION = "officer_actions"
CONVERSATION_NAME = "Officer actions"
ANONYMOUS = "anonymous"

log = structlog.get_logger("console.audit")


def officer_action(
    clock: Clock,
    *,
    action: str,
    user: str,
    outcome: str = "ok",
    facts: Mapping[str, Any] | None = None,
    client: str | None = None,
) -> Record:
    """One officer action as a record (a fresh random identity: every action is distinct)."""
    now = clock.now()
    details: dict[str, Any] = {"action": action, "outcome": outcome, **(facts or {})}
    payload = {"details": details, "user": user, "client": client, "at": now.isoformat()}
    raw = json.dumps(payload, ensure_ascii=False, sort_keys=True, separators=(",", ":"))
    return Record(
        key=record_key(Platform.CHATKEEPER.value, WORKSPACE, CONVERSATION, secrets.token_hex(16)),
        platform=Platform.CHATKEEPER,
        workspace=WORKSPACE,
        conversation=CONVERSATION,
        conversation_name=CONVERSATION_NAME,
        kind=Kind.OFFICER_ACTION,
        source=Source.CONSOLE,
        occurred_at=now,
        captured_at=now,
        raw=raw.encode("utf-8"),
        actor=Actor(user),
        details=details,
    )


class AuditTrail:
    """Captures officer actions into the journal; returns once each is durable."""

    def __init__(self, journal: Journal, clock: Clock) -> None:
        self.journal = journal
        self.clock = clock

    async def record(
        self,
        action: str,
        user: str,
        *,
        outcome: str = "ok",
        client: str | None = None,
        **facts: Any,
    ) -> int:
        """Archive one action; raises JournalError (the request then fails) if not durable."""
        record = officer_action(
            self.clock, action=action, user=user, outcome=outcome, facts=facts, client=client
        )
        (seq,) = await capture(self.journal, [record])
        log.info("officer.action", action=action, user=user, outcome=outcome, seq=seq)
        return seq


def describe(record: Record) -> dict[str, Any]:
    """An officer_action record as a row of the admins' audit page."""
    details = dict(record.details)
    action = str(details.pop("action", "?"))
    outcome = str(details.pop("outcome", "?"))
    return {
        "seq": record.seq,
        "at": record.occurred_at,
        "user": record.actor.id if record.actor else ANONYMOUS,
        "action": action,
        "outcome": outcome,
        "facts": ", ".join(f"{k}={v}" for k, v in sorted(details.items()) if v not in (None, "")),
    }


def pending_actions(journal: Journal, stream: str, limit: int = 500) -> list[Record]:
    """Officer actions captured but not sealed yet (newest first), from the journal."""
    last = journal.stats(stream).last_sealed
    after = last.seq_last if last is not None else 0
    found = [r for r in journal.iter_records(after_seq=after) if r.kind is Kind.OFFICER_ACTION]
    return sorted(found, key=lambda r: r.seq or 0, reverse=True)[:limit]
