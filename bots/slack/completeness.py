"""Reconciliation: compare recent history with the journal, recover what was missed.

Messages live capture missed are captured with ``details.recovered = true``;
what history cannot give back (edits and deletions that happened while
chatkeeper was not capturing) is reported, never invented. ``ReconcileJob``
runs it periodically over every captured conversation, on one replica at a
time (a journal lease).
"""

from __future__ import annotations

import asyncio
import uuid
from collections.abc import Mapping
from dataclasses import dataclass, field
from datetime import datetime, timedelta

import structlog
from slack_sdk.web.async_client import AsyncWebClient

from archive.clock import Clock, SystemClock
from archive.errors import BackfillError
from archive.journal import Journal
from archive.journal.aio import AsyncJournal
from archive.model import Kind, Record
from bots.slack.backfill import backfill_channel
from bots.slack.keys import edit_key
from bots.slack.payload import SLACK, slack_time

log = structlog.get_logger("chatkeeper.slack.reconciliation")


@dataclass
class CompletenessReport:
    channel: str
    since: datetime
    checked: int = 0
    recovered: list[str] = field(default_factory=list)  # ts captured now (missed live)
    unrecoverable_edits: list[str] = field(default_factory=list)  # ts edited while blind
    unrecoverable_deletes: list[str] = field(default_factory=list)  # ts deleted while blind

    @property
    def complete(self) -> bool:
        return not (self.recovered or self.unrecoverable_edits or self.unrecoverable_deletes)


async def reconcile_channel(
    journal: Journal,
    client: AsyncWebClient,
    *,
    team: str,
    channel: str,
    since: datetime,
    page_size: int = 200,
    requests_per_minute: float = 50.0,
    clock: Clock | None = None,
) -> CompletenessReport:
    """Compare history since ``since`` with the journal; capture what was missed, report the rest."""
    report = CompletenessReport(channel, since)
    journaled = await asyncio.to_thread(_journaled_messages, journal, team, channel, since)
    # replies captured in the window may belong to threads started before it
    threads = sorted({r.reply_to for r in journaled.values() if r.reply_to})
    run = await backfill_channel(
        journal,
        client,
        team=team,
        channel=channel,
        oldest=since,
        page_size=page_size,
        requests_per_minute=requests_per_minute,
        clock=clock,
        recovered=True,
        threads=threads,
    )
    report.checked = run.fetched
    report.recovered = sorted(run.stored)
    for ts, message in sorted(run.seen.items()):
        edited = message.get("edited")
        edited_at = slack_time(edited.get("ts")) if isinstance(edited, Mapping) else None
        if isinstance(edited, Mapping) and edited_at is not None and edited_at >= since:
            key = edit_key(team, channel, ts, str(edited["ts"]))
            if not await AsyncJournal(journal).contains([key]):
                report.unrecoverable_edits.append(ts)
    deleted = await asyncio.to_thread(_deleted_ts, journal, channel)
    for ts in sorted(journaled):
        if ts not in run.seen and ts not in deleted:
            report.unrecoverable_deletes.append(ts)
    return report


async def reconcile_monitored(
    journal: Journal,
    client: AsyncWebClient,
    *,
    since: datetime,
    page_size: int = 200,
    requests_per_minute: float = 50.0,
    clock: Clock | None = None,
) -> list[CompletenessReport]:
    """The reconciliation job: every Slack conversation with capture on, since it was turned on."""
    entries = await AsyncJournal(journal).monitoring(SLACK)
    reports = []
    for entry in entries:
        if not entry.enabled:
            continue
        try:
            report = await reconcile_channel(
                journal,
                client,
                team=entry.workspace,
                channel=entry.conversation,
                since=max(since, entry.changed_at),
                page_size=page_size,
                requests_per_minute=requests_per_minute,
                clock=clock,
            )
        except BackfillError as exc:
            log.warning("slack.reconcile_failed", channel=entry.conversation, error=str(exc))
            continue
        reports.append(report)
    return reports


def _journaled_messages(
    journal: Journal, team: str, channel: str, since: datetime
) -> dict[str, Record]:
    found: dict[str, Record] = {}
    for record in journal.find_records(
        SLACK, workspace=team, conversation=channel, kinds=(Kind.MESSAGE,), since=since
    ):
        if record.message_id:
            found.setdefault(record.message_id, record)
    return found


def _deleted_ts(journal: Journal, channel: str) -> set[str | None]:
    return {
        r.message_id
        for r in journal.find_records(SLACK, conversation=channel, kinds=(Kind.DELETE,))
    }


class ReconcileJob:
    """Reconcile every captured conversation every ``interval`` seconds (one replica at a time)."""

    LEASE = "slack-reconcile"

    def __init__(
        self,
        journal: Journal,
        client: AsyncWebClient,
        *,
        interval_seconds: float,
        window: timedelta,
        page_size: int,
        requests_per_minute: float,
        clock: Clock | None = None,
    ) -> None:
        self.journal = journal
        self.client = client
        self.interval = interval_seconds
        self.window = window
        self.page_size = page_size
        self.requests_per_minute = requests_per_minute
        self.clock = clock or SystemClock()
        self.holder = uuid.uuid4().hex

    async def run_once(self) -> list[CompletenessReport] | None:
        """One pass; None when another replica holds the lease."""
        now = self.clock.now()
        taken = await AsyncJournal(self.journal).acquire_lease(
            self.LEASE, self.holder, now, max(self.interval, 60.0)
        )
        if not taken:
            return None
        reports = await reconcile_monitored(
            self.journal,
            self.client,
            since=now - self.window,
            page_size=self.page_size,
            requests_per_minute=self.requests_per_minute,
            clock=self.clock,
        )
        for report in reports:
            log.info(
                "slack.reconciled",
                channel=report.channel,
                checked=report.checked,
                recovered=len(report.recovered),
                edits_lost=len(report.unrecoverable_edits),
                deletes_missed=len(report.unrecoverable_deletes),
            )
        return reports

    async def run_forever(self) -> None:
        while True:
            try:
                await self.run_once()
            except Exception as exc:  # a failed pass must not stop the next one
                log.warning("slack.reconcile_failed", error=type(exc).__name__)
            await asyncio.sleep(self.interval)
