"""History backfill and reconciliation with ``conversations.history`` / ``.replies``.

Backfilled messages get the live keys (``msg|channel|ts``), so anything live
capture already holds is not stored twice. 429 answers are retried after
``Retry-After`` (slack_sdk's rate-limit handler) and calls are paced to the
method's tier (``slack.backfill_requests_per_minute``; Tier 3 is 50/min).

Reconciliation (``bots/slack/completeness.py``) builds on it.
"""

from __future__ import annotations

import asyncio
import time
from collections.abc import AsyncIterator, Iterable, Mapping
from dataclasses import dataclass, field, replace
from datetime import datetime
from typing import Any

import structlog
from aiohttp import ClientError
from slack_sdk.errors import SlackApiError, SlackClientError
from slack_sdk.http_retry.builtin_async_handlers import AsyncRateLimitErrorRetryHandler
from slack_sdk.web.async_client import AsyncWebClient

from archive.capture import capture
from archive.clock import Clock, SystemClock
from archive.codec import canonical_json
from archive.errors import BackfillError
from archive.journal import Journal
from archive.journal.aio import AsyncJournal
from archive.model import Record, Source
from archive.progress import NO_PROGRESS, Progress
from bots.slack.directory import IdentityCache
from bots.slack.payload import Delivery, Snapshot
from bots.slack.translate import message_record

log = structlog.get_logger("chatkeeper.slack.backfill")


def history_client(token: str, base_url: str, max_retries: int = 5) -> AsyncWebClient:
    """A Web API client that waits out 429s instead of failing the run."""
    return AsyncWebClient(
        token=token,
        base_url=base_url,
        retry_handlers=[AsyncRateLimitErrorRetryHandler(max_retry_count=max_retries)],
    )


class Pacer:
    """At most ``per_minute`` calls per minute (evenly spaced)."""

    def __init__(self, per_minute: float) -> None:
        self._interval = 60.0 / per_minute if per_minute > 0 else 0.0
        self._next = 0.0

    async def wait(self) -> None:
        now = time.monotonic()
        if self._next > now:
            await asyncio.sleep(self._next - now)
        self._next = max(now, self._next) + self._interval


@dataclass
class HistoryRun:
    channel: str
    fetched: int = 0
    new: int = 0
    duplicates: int = 0
    pages: int = 0
    seen: dict[str, Mapping[str, Any]] = field(default_factory=dict)  # ts -> message
    stored: list[str] = field(default_factory=list)  # ts of the messages this run stored


async def _pages(
    client: AsyncWebClient, pacer: Pacer, method: str, params: dict[str, Any], run: HistoryRun
) -> AsyncIterator[list[Mapping[str, Any]]]:
    cursor = ""
    while True:
        await pacer.wait()
        try:
            response = await client.api_call(
                method, http_verb="GET", params={**params, "cursor": cursor} if cursor else params
            )
        except SlackApiError as exc:
            if exc.response.get("error") == "thread_not_found":
                return
            raise BackfillError(f"{method} failed: {exc.response.get('error')}") from exc
        except (SlackClientError, ClientError, OSError, TimeoutError) as exc:
            raise BackfillError(f"{method} failed: {type(exc).__name__}") from exc
        run.pages += 1
        messages = response.get("messages") or []
        yield [m for m in messages if isinstance(m, Mapping)]
        metadata = response.get("response_metadata") or {}
        cursor = str(metadata.get("next_cursor") or "")
        if not cursor:
            return


async def fetch_history(
    client: AsyncWebClient,
    channel: str,
    oldest: datetime,
    page_size: int,
    pacer: Pacer,
    threads: Iterable[str] = (),
    progress: Progress = NO_PROGRESS,
) -> HistoryRun:
    """Every message since ``oldest``: parents from history, replies from each thread.

    ``progress`` counts messages read and names the page or thread being read.

    ``threads`` adds parents older than ``oldest`` whose recent replies are wanted
    (history lists a thread under its parent's time).
    """
    run = HistoryRun(channel)
    base = {"channel": channel, "oldest": f"{oldest.timestamp():.6f}", "limit": page_size}
    parents: dict[str, None] = {}
    progress.step(f"{channel}: history")
    async for page in _pages(client, pacer, "conversations.history", base, run):
        progress.advance(len(page))
        for message in page:
            ts = str(message.get("ts", ""))
            run.seen[ts] = message
            if message.get("reply_count") or message.get("thread_ts") == ts:
                parents[ts] = None
    parents.update(dict.fromkeys(threads))
    for n, parent in enumerate(parents, 1):
        progress.step(f"{channel}: thread {n} of {len(parents)}")
        params = {"channel": channel, "ts": parent, "limit": page_size}
        async for page in _pages(client, pacer, "conversations.replies", params, run):
            progress.advance(len(page))
            for message in page:
                ts = str(message.get("ts", ""))
                if _after(ts, oldest):
                    run.seen.setdefault(ts, message)
    run.fetched = len(run.seen)
    return run


def _after(ts: str, oldest: datetime) -> bool:
    try:
        return float(ts) >= oldest.timestamp()
    except ValueError:
        return False


async def _records_for(
    run: HistoryRun, team: str, identity: IdentityCache | None, clock: Clock, recovered: bool
) -> list[Record]:
    conversation = await identity.conversation(run.channel) if identity else None
    actors = (
        await identity.actors(str(m.get("user", "")) for m in run.seen.values()) if identity else {}
    )
    snapshot = Snapshot(
        actors=actors,
        conversation_name=conversation.name if conversation else None,
        conversation_type=conversation.type if conversation else None,
    )
    records = []
    for message in sorted(run.seen.values(), key=lambda m: float(str(m.get("ts", 0)))):
        delivery = Delivery(team, Source.BACKFILL_API, canonical_json(message), clock.now())
        record = message_record(run.channel, message, delivery, snapshot)
        if recovered:
            record = replace(record, details={**record.details, "recovered": True})
        records.append(record)
    return records


async def backfill_channel(
    journal: Journal,
    client: AsyncWebClient,
    *,
    team: str,
    channel: str,
    oldest: datetime,
    page_size: int = 200,
    requests_per_minute: float = 50.0,
    identity: IdentityCache | None = None,
    clock: Clock | None = None,
    recovered: bool = False,
    threads: Iterable[str] = (),
    progress: Progress = NO_PROGRESS,
) -> HistoryRun:
    """Store every message of ``channel`` since ``oldest`` that the journal lacks."""
    clock = clock or SystemClock()
    pacer = Pacer(requests_per_minute)
    run = await fetch_history(client, channel, oldest, page_size, pacer, threads, progress)
    progress.step(f"{channel}: storing")
    records = await _records_for(run, team, identity, clock, recovered)
    existing = await AsyncJournal(journal).contains([r.key for r in records])
    fresh = [r for r in records if r.key not in existing]
    await capture(journal, fresh)
    run.new, run.duplicates = len(fresh), len(records) - len(fresh)
    run.stored = [r.message_id or "" for r in fresh]
    log.info(
        "slack.backfill_done", channel=channel, fetched=run.fetched, new=run.new, pages=run.pages
    )
    return run
