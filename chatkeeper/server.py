"""The HTTP server of ``chatkeeper serve``: the bots' endpoints, /healthz and /metrics.

Each platform is a :class:`bots.bot.Bot`: its aiohttp routes (webhooks) are
mounted here; ``serve`` starts and stops it and hands its downloader to the
attachment worker.

``/healthz`` says ``degraded`` while sealing fails (and backs off) and while
sealing is overdue: the oldest unsealed record has waited longer than
``overdue_after_seconds`` (``serve`` passes two seal intervals), which also
catches a sealer that hangs without failing.
"""

from __future__ import annotations

import asyncio
import json
from collections.abc import Iterator, Sequence
from datetime import datetime

from aiohttp import web
from prometheus_client import CollectorRegistry, generate_latest
from prometheus_client.core import GaugeMetricFamily
from prometheus_client.registry import Collector

from archive.clock import Clock, SystemClock
from archive.errors import JournalError
from archive.journal import Journal
from archive.journal.aio import AsyncJournal
from archive.schedule import SealJob
from bots.bot import Bot


class JournalCollector(Collector):
    """Prometheus figures read from the journal at scrape time."""

    def __init__(self, journal: Journal, stream: str, job: SealJob | None, clock: Clock) -> None:
        self.journal = journal
        self.stream = stream
        self.job = job
        self.clock = clock

    def collect(self) -> Iterator[GaugeMetricFamily]:
        stats = self.journal.stats(self.stream)
        yield GaugeMetricFamily(
            "chatkeeper_journal_records", "Records in the journal.", stats.records
        )
        yield GaugeMetricFamily(
            "chatkeeper_backlog_records", "Records not yet sealed.", stats.unsealed
        )
        age = backlog_age(stats.oldest_unsealed_captured_at, self.clock)
        yield GaugeMetricFamily(
            "chatkeeper_backlog_age_seconds", "Age of the oldest unsealed record.", age
        )
        last = stats.last_sealed.number if stats.last_sealed else 0
        yield GaugeMetricFamily(
            "chatkeeper_last_sealed_bundle", "Number of the last sealed bundle.", last
        )
        if self.job is not None:
            yield GaugeMetricFamily(
                "chatkeeper_seal_consecutive_failures",
                "Sealing attempts failed in a row (0 when healthy).",
                self.job.failures,
            )


def backlog_age(oldest: datetime | None, clock: Clock) -> float:
    """Seconds the oldest unsealed record has waited (0 without a backlog)."""
    return max(0.0, (clock.now() - oldest).total_seconds()) if oldest else 0.0


def build_app(
    journal: Journal,
    stream: str,
    job: SealJob | None,
    bots: Sequence[Bot],
    *,
    overdue_after_seconds: float | None = None,
) -> web.Application:
    """The server; the clock is the seal job's (a FixedClock in tests)."""
    clock: Clock = job.clock if job is not None else SystemClock()
    registry = CollectorRegistry()
    registry.register(JournalCollector(journal, stream, job, clock))
    aio = AsyncJournal(journal)

    async def healthz(_: web.Request) -> web.Response:
        try:
            stats = await aio.stats(stream)
        except JournalError as exc:
            return web.json_response({"status": "error", "journal": str(exc)}, status=503)
        age = backlog_age(stats.oldest_unsealed_captured_at, clock)
        overdue = overdue_after_seconds is not None and age > overdue_after_seconds
        failures = job.failures if job else 0
        body = {
            "status": "degraded" if failures or overdue else "ok",
            "backlog": stats.unsealed,
            "backlog_age_seconds": round(age, 1),
            "seal_overdue": overdue,
            "last_bundle": stats.last_sealed.number if stats.last_sealed else None,
            "seal_failures": failures,
        }
        return web.json_response(body, dumps=lambda v: json.dumps(v, sort_keys=True))

    async def metrics(_: web.Request) -> web.Response:
        data = await asyncio.to_thread(generate_latest, registry)
        return web.Response(body=data, content_type="text/plain", charset="utf-8")

    app = web.Application()
    app.add_routes([web.get("/healthz", healthz), web.get("/metrics", metrics)])
    for bot in bots:
        app.add_routes(bot.routes())
    return app
