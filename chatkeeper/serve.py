"""``chatkeeper serve``: the bots, the attachment worker, scheduled sealing and the HTTP server.

Each configured platform becomes a server Plugin (see ``chatkeeper/plugins.py``).
Start-up order: the HTTP server binds (a taken port fails here), the bots
start (a rejected token fails here), and only then the sealing scheduler and
the attachment worker. A failure at any step stops what already runs and
surfaces as one chatkeeper error. Shutdown on SIGINT/SIGTERM: stop accepting
requests, stop the worker, let a running seal finish, stop the bots, close
the journal.
"""

from __future__ import annotations

import asyncio
import contextlib
import os
import signal
from collections.abc import Callable

import click
import structlog
from aiohttp import web
from apscheduler.schedulers.background import BackgroundScheduler

from archive.attachments import AttachmentFetcher, Downloader, FetchPolicy
from archive.clock import SystemClock
from archive.errors import ListenError
from archive.logs import configure
from archive.schedule import SealJob, install
from chatkeeper import runtime
from chatkeeper.commands_records import seal_time_holds
from chatkeeper.context import AppContext
from chatkeeper.plugins import build_plugins
from chatkeeper.server import Plugin, build_app
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
    policy = runtime.seal_policy(settings)
    interval = settings.schedule.seal_interval_seconds
    with runtime.open_journal(settings) as journal, runtime.open_store(settings) as store:
        job = SealJob(
            journal,
            store,
            runtime.signer(settings),
            policy,
            clock,
            lease_seconds=settings.schedule.lease_seconds,
            load_signer=lambda: runtime.signer(settings),
            after_seal=lambda report: seal_time_holds(settings, journal, store, report.bundles),
        )
        plugins = await build_plugins(settings, journal)
        downloaders: dict[str, Downloader] = {
            p.name: p.downloader for p in plugins if p.downloader is not None
        }
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
        app = build_app(
            journal, settings.archive.stream, job, plugins, overdue_after_seconds=2 * interval
        )
        # Unwound in reverse: stop accepting requests, join the worker, stop the
        # scheduler (a running seal finishes), stop the bots, release the server.
        async with contextlib.AsyncExitStack() as running:
            runner = web.AppRunner(app)
            await runner.setup()
            running.push_async_callback(runner.cleanup)
            port = await _listen(runner, settings.server.host, settings.server.port)
            for plugin in plugins:  # webhooks need the endpoint up before they subscribe
                await _start_plugin(plugin, running)
            scheduler = BackgroundScheduler(timezone="UTC")
            install(
                scheduler,
                job,
                interval_seconds=interval,
                backlog_threshold=settings.schedule.seal_backlog_threshold,
                backlog_check_seconds=settings.schedule.backlog_check_seconds,
            )
            scheduler.start()
            running.push_async_callback(asyncio.to_thread, scheduler.shutdown, True)
            worker = asyncio.create_task(fetcher.run_forever(stop))
            running.push_async_callback(_join, worker, stop)
            running.push_async_callback(runner.shutdown)
            running.callback(log.info, "serve.stopping")
            _handle_signals(stop)
            log.info(
                "serve.listening",
                host=settings.server.host,
                port=port,
                platforms=[p.name for p in plugins],
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
    return _bound_port(site, port)


async def _start_plugin(plugin: Plugin, running: contextlib.AsyncExitStack) -> None:
    """Start one bot; if it fails, release what it opened and let the error through."""
    if plugin.start is None:
        return
    try:
        await plugin.start()
    except BaseException:
        await _stop_plugin(plugin)
        raise
    running.push_async_callback(_stop_plugin, plugin)


async def _stop_plugin(plugin: Plugin) -> None:
    if plugin.stop is None:
        return
    try:
        await plugin.stop()
    except Exception as exc:  # shutting down: report, keep stopping the rest
        log.warning("serve.plugin_stop_failed", platform=plugin.name, error=type(exc).__name__)


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


def _bound_port(site: web.TCPSite, configured: int) -> int:
    server = site._server
    sockets = getattr(server, "sockets", None) or []
    return int(sockets[0].getsockname()[1]) if sockets else configured


@click.command("serve")
@click.pass_context
def serve_command(ctx: click.Context) -> None:
    """Run the bots, the attachment worker and scheduled sealing, with /healthz and /metrics."""
    app: AppContext = ctx.obj
    settings = app.settings
    configure(settings.log.level, settings.log.format)
    asyncio.run(serve(settings))


def register(cli: click.Group) -> None:
    cli.add_command(serve_command)
