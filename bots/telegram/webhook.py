"""The webhook endpoint: check the secret, journal the exact body, then answer 200.

Telegram retries a delivery that does not get a 2xx, so a journal failure
answers 500 and the update comes back; a wrong or missing
``X-Telegram-Bot-Api-Secret-Token`` answers 403 and nothing is journaled.
Mount :func:`webhook_routes` into the server, or run :func:`webhook_app` alone.
"""

from __future__ import annotations

import hmac
import json
from collections.abc import Awaitable, Callable

import structlog
from aiohttp import web

from archive.errors import ConfigError, JournalError
from archive.model import Source
from bots.telegram.ingest import TelegramIngest

log = structlog.get_logger("chatkeeper.telegram.webhook")
SECRET_HEADER = "X-Telegram-Bot-Api-Secret-Token"  # noqa: S105 - a header name
Handler = Callable[[web.Request], Awaitable[web.StreamResponse]]


def webhook_handler(ingest: TelegramIngest, secret: str) -> Handler:
    """The aiohttp handler for Telegram's POSTs (fails closed without a secret)."""
    if not secret:
        raise ConfigError("telegram.webhook_secret is required in webhook mode")
    expected = secret.encode("utf-8")

    async def handle(request: web.Request) -> web.StreamResponse:
        given = request.headers.get(SECRET_HEADER, "").encode("utf-8")
        if not hmac.compare_digest(given, expected):
            log.warning("telegram.webhook_forbidden", remote=request.remote)
            return web.Response(status=403, text="forbidden")
        body = await request.read()
        try:
            update = json.loads(body)
        except ValueError:
            return web.Response(status=400, text="not JSON")
        if not isinstance(update, dict) or not isinstance(update.get("update_id"), int):
            return web.Response(status=400, text="not a Telegram update")
        try:
            await ingest.ingest([(body, update)], Source.WEBHOOK)
        except JournalError as exc:
            log.error("telegram.webhook_journal_failed", error=str(exc)[:200])
            return web.Response(status=500, text="not stored, retry")
        return web.Response(status=200)

    return handle


def webhook_routes(ingest: TelegramIngest, secret: str, path: str) -> list[web.RouteDef]:
    return [web.post(path, webhook_handler(ingest, secret))]


def webhook_app(ingest: TelegramIngest, secret: str, path: str) -> web.Application:
    """A standalone aiohttp application serving only the webhook endpoint."""
    app = web.Application(client_max_size=4 * 1024 * 1024)
    app.add_routes(webhook_routes(ingest, secret, path))
    return app
