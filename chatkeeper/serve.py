"""``chatkeeper serve``: the bots, the attachment worker, scheduled sealing and the HTTP server.

Each configured platform becomes a :class:`bots.bot.Bot` (:func:`chatkeeper.build.build_bots`).
Start-up order: the HTTP server binds (a taken port fails here), the bots
start (a rejected token fails here), and only then scheduled sealing and
the attachment worker. A failure at any step stops what already runs and
surfaces as one chatkeeper error. Shutdown on SIGINT/SIGTERM: stop accepting
requests, stop the worker, let a running seal finish, stop the bots, close
the journal.

Sealing is scheduled on the event loop (``archive.schedule.LoopSealing``:
APScheduler's asyncio scheduler with the periodic seal and the backlog
check); each run of the blocking ``SealJob`` goes to a worker thread, so
nothing blocks the loop and no other thread touches the loop's objects.
After each seal that produced bundles the job runs its ``after_seal`` hooks
(the search index update, ``chatkeeper.search_index.seal_hook``; supervision's
screening when a policy is configured, ``chatkeeper.screening``).
"""

from __future__ import annotations

import asyncio
import contextlib
import os
import signal
from collections.abc import Callable

import structlog
from aiohttp import web

from archive import observe
from archive.attachments import AttachmentFetcher, Downloader, FetchPolicy
from archive.clock import SystemClock
from archive.errors import ListenError
from archive.schedule import BacklogTrigger, LoopSealing, SealJob
from bots.bot import Bot
from chatkeeper import build
from chatkeeper.metrics import Metrics
from chatkeeper.screening import after_seal_hooks
from chatkeeper.search_index import seal_hook
from chatkeeper.server import build_app
from chatkeeper.settings import Settings

log = structlog.get_logger("chatkeeper.serve")


async def serve(
    settings: Settings,
    *,
    stop: asyncio.Event | None = None,
    on_ready: Callable[[int], None] | None = None,
) -> None:
    """Run until ``stop`` is set (or SIGINT/SIGTERM); ``on_ready`` gets the bound port."""
    stop = stop or asyncio.Event()
    clock = SystemClock()
    policy = build.seal_policy(settings)
    interval = settings.schedule.seal_interval_seconds
    with (
        build.open_journal(settings) as journal,
        build.open_store(settings) as store,
        after_seal_hooks(settings, store) as screening,
    ):
        job = SealJob(
            journal,
            store,
            build.signer(settings),
            policy,
            clock,
            lease_seconds=settings.schedule.lease_seconds,
            load_signer=lambda: build.signer(settings),
            # Holds first: they seal records of their own, which the index and screening pick up.
            after_seal=[
                build.seal_time_holds(settings, journal, store),
                seal_hook(settings, store),
                *screening,
            ],
        )
        bots = build.build_bots(settings, journal)
        downloaders: dict[str, Downloader] = {bot.name: bot.downloader() for bot in bots}
        fetcher = AttachmentFetcher(
            journal,
            store,
            downloaders,
            FetchPolicy(
                layout=policy.layout,
                max_bytes=settings.capture.attachment_max_bytes,
                retention_mode=settings.archive.retention_mode,
                retention_days=settings.archive.retention_days,
            ),
            clock,
        )
        metrics = Metrics()
        app = build_app(
            journal,
            settings.archive.stream,
            job,
            bots,
            overdue_after_seconds=2 * interval,
            metrics=metrics,
            home=settings.home,
        )
        # Unwound in reverse: stop accepting requests, join the worker, stop sealing
        # (a running seal finishes), stop the bots, release the server.
        async with contextlib.AsyncExitStack() as running:
            running.callback(observe.install, observe.install(metrics))
            runner = web.AppRunner(app)
            await runner.setup()
            running.push_async_callback(runner.cleanup)
            port = await _listen(runner, settings.server.host, settings.server.port)
            for bot in bots:  # webhooks need the endpoint up before they subscribe
                await _start_bot(bot, running)
            backlog = BacklogTrigger(
                journal, settings.archive.stream, settings.schedule.seal_backlog_threshold, job
            )
            sealing = LoopSealing(
                job,
                backlog,
                interval_seconds=interval,
                backlog_check_seconds=settings.schedule.backlog_check_seconds,
                first_run=clock.now(),
            )
            sealing.start()
            running.push_async_callback(sealing.stop)
            worker = asyncio.create_task(fetcher.run_forever(stop))
            running.push_async_callback(_join, worker, stop)
            running.push_async_callback(runner.shutdown)
            running.callback(log.info, "serve.stopping")
            _handle_signals(stop)
            log.info(
                "serve.listening",
                host=settings.server.host,
                port=port,
                platforms=[bot.name for bot in bots],
                lease_holder=job.holder,
            )
            if on_ready is not None:
                on_ready(port)
            await stop.wait()


async def _listen(runner: web.AppRunner, host: str, port: int) -> int:
    """Bind the HTTP server; a taken port or a bad host is one ListenError."""
    site = web.TCPSite(runner, host, port)
    try:
        await site.start()
    except OSError as exc:
        reason = os.strerror(exc.errno) if exc.errno and exc.errno > 0 else str(exc)
        raise ListenError(
            f"cannot listen on {host}:{port} (server.host, server.port): {reason}"
        ) from exc
    return _bound_port(runner, port)


async def _start_bot(bot: Bot, running: contextlib.AsyncExitStack) -> None:
    """Start one bot; if it fails, release what it opened and let the error through."""
    try:
        await bot.start()
    except BaseException:
        await _stop_bot(bot)
        raise
    running.push_async_callback(_stop_bot, bot)


async def _stop_bot(bot: Bot) -> None:
    try:
        await bot.stop()
    except Exception as exc:  # shutting down: report, keep stopping the rest
        log.warning("serve.plugin_stop_failed", platform=bot.name, error=type(exc).__name__)


async def _join(worker: asyncio.Task[None], stop: asyncio.Event) -> None:
    stop.set()
    await worker


def _handle_signals(stop: asyncio.Event) -> None:
    loop = asyncio.get_running_loop()
    for sig in (signal.SIGINT, signal.SIGTERM):
        try:
            loop.add_signal_handler(sig, stop.set)
        except (NotImplementedError, RuntimeError):  # not the main thread (tests)
            break


def _bound_port(runner: web.AppRunner, configured: int) -> int:
    """The port the server listens on (the OS picks one for port 0)."""
    addresses = runner.addresses
    return int(addresses[0][1]) if addresses else configured
