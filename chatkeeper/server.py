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
import time
from collections.abc import Awaitable, Callable, Sequence
from pathlib import Path

from aiohttp import web
from prometheus_client import CollectorRegistry, generate_latest

from archive.clock import Clock, SystemClock
from archive.errors import JournalError
from archive.journal import Journal
from archive.journal.aio import AsyncJournal
from archive.schedule import SealJob
from bots.bot import Bot
from chatkeeper.metrics import JournalCollector, Metrics, VerifyCollector, backlog_age


def build_app(
    journal: Journal,
    stream: str,
    job: SealJob | None,
    bots: Sequence[Bot],
    *,
    overdue_after_seconds: float | None = None,
    metrics: Metrics | None = None,
    home: Path | None = None,
) -> web.Application:
    """The server; the clock is the seal job's (a FixedClock in tests).

    ``metrics`` are the event metrics ``serve`` installed as the observer;
    ``home`` is the state directory whose verify result ``/metrics`` publishes.
    """
    clock: Clock = job.clock if job is not None else SystemClock()
    metrics = metrics or Metrics()
    registry = metrics_registry(journal, stream, job, clock, metrics, home)
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

    async def scrape(_: web.Request) -> web.Response:
        data = await asyncio.to_thread(generate_latest, registry)
        return web.Response(body=data, content_type="text/plain", charset="utf-8")

    app = web.Application()
    app.add_routes([web.get("/healthz", healthz), web.get("/metrics", scrape)])
    for bot in bots:
        app.add_routes([timed(route, bot.name, metrics) for route in bot.routes()])
    return app


def metrics_registry(
    journal: Journal,
    stream: str,
    job: SealJob | None,
    clock: Clock,
    metrics: Metrics,
    home: Path | None,
) -> CollectorRegistry:
    """Everything /metrics serves: the event metrics, the journal's figures, the verify result."""
    registry = metrics.registry
    registry.register(JournalCollector(journal, stream, job, clock))
    if home is not None:
        registry.register(VerifyCollector(home))
    return registry


Handler = Callable[[web.Request], Awaitable[web.StreamResponse]]


def timed(route: web.RouteDef, platform: str, metrics: Metrics) -> web.RouteDef:
    """``route`` with its answer time observed in the ack latency histogram.

    The bots answer a delivery only after the journal commit, so the time to
    the answer is the platform's ack latency (Slack wants it within 3 s).
    """
    handler: Handler = route.handler

    async def observed(request: web.Request) -> web.StreamResponse:
        started = time.perf_counter()
        try:
            return await handler(request)
        finally:
            metrics.acked(platform, time.perf_counter() - started)

    return web.route(route.method, route.path, observed, **route.kwargs)
