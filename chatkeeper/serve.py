"""``chatkeeper serve``: the bots, the attachment worker, scheduled sealing and the HTTP server.

Each configured platform becomes a server Plugin (see ``chatkeeper/plugins.py``).
Shutdown on SIGINT/SIGTERM: stop accepting requests, stop the bots, let a
running seal finish, close the journal.
"""

from __future__ import annotations

import asyncio
import signal
from collections.abc import Callable

import click
import structlog
from aiohttp import web
from apscheduler.schedulers.background import BackgroundScheduler

from archive.attachments import AttachmentFetcher, Downloader, FetchPolicy
from archive.clock import SystemClock
from archive.logs import configure
from archive.schedule import SealJob, install
from chatkeeper import runtime
from chatkeeper.commands_search import seal_hook
from chatkeeper.context import AppContext
from chatkeeper.plugins import build_plugins
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
    policy = runtime.seal_policy(settings)
    with runtime.open_journal(settings) as journal, runtime.open_store(settings) as store:
        job = SealJob(
            journal,
            store,
            runtime.signer(settings),
            policy,
            clock,
            lease_seconds=settings.schedule.lease_seconds,
            after_seal=seal_hook(settings, store),
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
        scheduler = BackgroundScheduler(timezone="UTC")
        install(
            scheduler,
            job,
            interval_seconds=settings.schedule.seal_interval_seconds,
            backlog_threshold=settings.schedule.seal_backlog_threshold,
            backlog_check_seconds=settings.schedule.backlog_check_seconds,
        )
        runner = web.AppRunner(build_app(journal, settings.archive.stream, job, plugins))
        await runner.setup()
        site = web.TCPSite(runner, settings.server.host, settings.server.port)
        await site.start()
        port = _bound_port(site, settings.server.port)
        log.info(
            "serve.listening",
            host=settings.server.host,
            port=port,
            platforms=[p.name for p in plugins],
        )
        scheduler.start()
        worker = asyncio.create_task(fetcher.run_forever(stop))
        for plugin in plugins:
            if plugin.start is not None:
                await plugin.start()
        loop = asyncio.get_running_loop()
        for sig in (signal.SIGINT, signal.SIGTERM):
            try:
                loop.add_signal_handler(sig, stop.set)
            except (NotImplementedError, RuntimeError):  # not the main thread (tests)
                break
        if on_ready is not None:
            on_ready(port)
        try:
            await stop.wait()
        finally:
            log.info("serve.stopping")
            await runner.shutdown()
            for plugin in plugins:
                if plugin.stop is not None:
                    await plugin.stop()
            await worker
            await asyncio.to_thread(scheduler.shutdown, True)
            await runner.cleanup()


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
