"""Run the console's application on a TCP port until told to stop."""

from __future__ import annotations

import asyncio
import signal
from collections.abc import Callable

import structlog
from aiohttp import web

from console.app import build_console_app
from console.context import Console

log = structlog.get_logger("console.server")


async def run_console(
    console: Console,
    host: str,
    port: int,
    *,
    stop: asyncio.Event | None = None,
    on_ready: Callable[[int], None] | None = None,
) -> None:
    """Serve until ``stop`` is set (or SIGINT/SIGTERM); ``on_ready`` gets the bound port."""
    stop = stop or asyncio.Event()
    runner = web.AppRunner(build_console_app(console), access_log=None)
    await runner.setup()
    site = web.TCPSite(runner, host, port)
    await site.start()
    server = site._server
    sockets = getattr(server, "sockets", None) or []
    bound = int(sockets[0].getsockname()[1]) if sockets else port
    log.info("console.listening", host=host, port=bound)
    loop = asyncio.get_running_loop()
    for sig in (signal.SIGINT, signal.SIGTERM):
        try:
            loop.add_signal_handler(sig, stop.set)
        except (NotImplementedError, RuntimeError):  # not the main thread (tests)
            break
    if on_ready is not None:
        on_ready(bound)
    try:
        await stop.wait()
    finally:
        log.info("console.stopping")
        await runner.cleanup()
