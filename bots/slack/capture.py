"""From a verified Slack delivery to durable records: the capture path the listeners call.

``capture_envelope`` decides whether the conversation is captured
(:func:`archive.capture.should_capture`), takes an identity snapshot,
translates (:mod:`bots.slack.translate`, pure), and hands the record and its
file fetches to :func:`archive.capture.capture`. It returns only when all of
that is durable, so the listener can let Bolt acknowledge.
"""

from __future__ import annotations

import asyncio
import hashlib
import time
from collections.abc import Callable, Mapping
from typing import Any

import structlog

from archive.capture import capture, should_capture
from archive.clock import Clock
from archive.journal import Journal
from archive.journal.aio import AsyncJournal
from archive.model import Kind, Platform, Record, Source
from archive.observe import observer
from bots.slack.directory import IdentityCache
from bots.slack.files import file_fetches
from bots.slack.keys import payload_key
from bots.slack.payload import (
    Delivery,
    Snapshot,
    delivery_for,
    event_actor,
    event_conversation,
    slack_time,
)
from bots.slack.translate import event_record, untranslated_record

_MONITORED_CACHE_SECONDS = 5.0
ALARMS = frozenset({"app_rate_limited", "tokens_revoked", "app_uninstalled"})
log = structlog.get_logger("chatkeeper.slack")


Translator = Callable[[Mapping[str, Any], Delivery, Snapshot], Record]


class SlackCapture:
    """The Slack capture path; ``translate`` is the pure envelope → Record function."""

    def __init__(
        self,
        journal: Journal,
        identity: IdentityCache,
        clock: Clock,
        capture_mode: str,
        lookup_seconds: float = 1.5,
        *,
        translate: Translator = event_record,
    ) -> None:
        self.translate = translate
        self.journal = journal
        self.aio = AsyncJournal(journal)
        self.lookup_seconds = lookup_seconds
        self.identity = identity
        self.clock = clock
        self.capture_mode = capture_mode
        self._monitored: dict[tuple[str, str], float] = {}  # (team, channel) -> cached until

    async def capture_envelope(
        self, envelope: Mapping[str, Any], raw: bytes, source: Source
    ) -> Record | None:
        """Journal one ``event_callback`` envelope (if its conversation is captured)."""
        event = envelope.get("event")
        event = event if isinstance(event, Mapping) else {}
        delivery = delivery_for(envelope, raw, source, self.clock.now())
        channel = event_conversation(event)
        if channel and not await self._captures(delivery.team, channel):
            return None
        if event.get("type") in {"channel_rename", "group_rename"}:
            self.identity.forget_conversation(channel)
        try:
            snapshot = await asyncio.wait_for(self._snapshot(event, channel), self.lookup_seconds)
        except TimeoutError:  # the ack must not wait on a slow Web API: keep the bare ids
            log.warning("slack.snapshot_timeout", event_id=delivery.event_id)
            snapshot = Snapshot()
        try:
            record = self.translate(envelope, delivery, snapshot)
        except Exception as exc:  # never lose a delivery to a translation bug: keep the raw
            log.error(
                "slack.translate_failed", event_id=delivery.event_id, error=type(exc).__name__
            )
            record = untranslated_record(envelope, delivery, exc)
        await capture(self.journal, [record], file_fetches(record, event, self.clock.now()))
        if event.get("type") in ALARMS:
            log.warning("slack.alarm", alarm=event.get("type"), team=delivery.team)
        return record

    async def _snapshot(self, event: Mapping[str, Any], channel: str) -> Snapshot:
        conversation, actors = await asyncio.gather(
            self.identity.conversation(channel), self.identity.actors([event_actor(event)])
        )
        return Snapshot(
            actors=actors,
            conversation_name=conversation.name if conversation else None,
            conversation_type=conversation.type if conversation else None,
        )

    async def keep_payload(
        self,
        body: Mapping[str, Any],
        raw: bytes,
        source: Source,
        malformed: str | None = None,
    ) -> Record:
        """A verified payload without an inner event (``app_rate_limited``, ...) as ``other``.

        ``malformed`` says why a verified body could not be parsed or has the wrong
        shape (``body`` is then what did parse, maybe nothing). The key hashes the raw
        bytes, so Slack's retries of one body are stored once.
        """
        now = self.clock.now()
        team = body.get("team_id")
        team = team if isinstance(team, str) else ""
        kind = body.get("type")
        details = {"event": kind if isinstance(kind, str) else ""}
        if malformed is not None:
            details["malformed"] = malformed
        record = Record(
            key=payload_key(team, hashlib.sha256(raw).hexdigest()),
            platform=Platform.SLACK,
            workspace=team,
            conversation="",
            kind=Kind.OTHER,
            source=source,
            occurred_at=slack_time(body.get("minute_rate_limited")) or now,
            captured_at=now,
            details=details,
            raw=raw,
        )
        await capture(self.journal, [record])
        if body.get("type") in ALARMS:  # Slack is dropping events: operators must know
            log.warning("slack.alarm", alarm=body.get("type"), team=team)
            if body.get("type") == "app_rate_limited":
                observer().rate_limited("slack", "app_rate_limited")
        return record

    def forget_monitoring(self, team: str, channel: str) -> None:
        """After an admin command: ask the journal again next time."""
        self._monitored.pop((team, channel), None)

    async def _captures(self, team: str, channel: str) -> bool:
        """``capture.mode``; "yes" answers are cached briefly (a "no" always asks the journal).

        Only positives are cached so that turning capture on (maybe on another replica)
        takes effect at once; turning it off may over-capture for a few seconds.
        """
        if self.capture_mode == "all":
            return True
        key = (team, channel)
        now = time.monotonic()
        if self._monitored.get(key, 0.0) > now:
            return True
        captured = await should_capture(
            self.aio, self.capture_mode, Platform.SLACK.value, team, channel
        )
        if captured:
            self._monitored[key] = now + _MONITORED_CACHE_SECONDS
        return captured
