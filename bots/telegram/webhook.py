"""The webhook endpoint: check the secret, journal the exact body, then answer 200.

Telegram retries a delivery that does not get a 2xx, so a journal failure
answers 500 and the update comes back; a wrong or missing
``X-Telegram-Bot-Api-Secret-Token`` answers 403 before the body is read, and
nothing is journaled. A body with the right secret that is not an update (not
JSON, not an object, no integer ``update_id``, nested deeper than
:data:`~bots.json_depth.MAX_JSON_DEPTH`) is kept raw as an ``other`` record
(keyed by its SHA-256, so redeliveries are stored once) and answered 400.
Mount :func:`webhook_routes` into the server, or run :func:`webhook_app` alone.
"""

from __future__ import annotations

import hashlib
import hmac
import json
from collections.abc import Awaitable, Callable
from typing import Any

import structlog
from aiohttp import web

from archive.capture import capture
from archive.errors import ConfigError, JournalError
from archive.model import Kind, Platform, Record, Source, record_key
from bots.json_depth import MAX_JSON_DEPTH, nests_deeper_than
from bots.telegram.capture import TelegramCapture

log = structlog.get_logger("chatkeeper.telegram.webhook")
SECRET_HEADER = "X-Telegram-Bot-Api-Secret-Token"  # noqa: S105 - a header name
Handler = Callable[[web.Request], Awaitable[web.StreamResponse]]


def webhook_handler(telegram: TelegramCapture, secret: str) -> Handler:
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
        problem, update = _parse_update(body)
        try:
            if problem is not None:
                await _keep_malformed(telegram, body, problem)
            else:
                await telegram.capture_updates([(body, update)], Source.WEBHOOK)
        except JournalError as exc:
            log.error("telegram.webhook_journal_failed", error=str(exc)[:200])
            return web.Response(status=500, text="not stored, retry")
        if problem is not None:
            log.warning("telegram.webhook_malformed", reason=problem)
            return web.Response(status=400, text=f"not a Telegram update: {problem}")
        return web.Response(status=200)

    return handle


def _parse_update(body: bytes) -> tuple[str | None, dict[str, Any]]:
    """The update in a verified body, or why it is not one (depth is checked before parsing)."""
    if nests_deeper_than(body):
        return f"nested deeper than {MAX_JSON_DEPTH} levels", {}
    try:
        update = json.loads(body)
    except (ValueError, RecursionError):
        return "not JSON", {}
    if not isinstance(update, dict):
        return "not a JSON object", {}
    if not isinstance(update.get("update_id"), int) or isinstance(update["update_id"], bool):
        return "no integer update_id", {}
    return None, update


async def _keep_malformed(telegram: TelegramCapture, body: bytes, problem: str) -> None:
    """A body that passed the secret check but is no update, kept raw as ``other``."""
    now = telegram.clock.now()
    record = Record(
        key=record_key(
            Platform.TELEGRAM.value,
            f"bot:{telegram.bot_id}",
            "malformed",
            hashlib.sha256(body).hexdigest(),
        ),
        platform=Platform.TELEGRAM,
        workspace=telegram.bot_id,
        conversation="",
        kind=Kind.OTHER,
        source=Source.WEBHOOK,
        occurred_at=now,
        captured_at=now,
        details={"update_type": "other", "malformed": problem},
        raw=body,
    )
    await capture(telegram.journal, [record])


def webhook_routes(telegram: TelegramCapture, secret: str, path: str) -> list[web.RouteDef]:
    return [web.post(path, webhook_handler(telegram, secret))]


def webhook_app(telegram: TelegramCapture, secret: str, path: str) -> web.Application:
    """A standalone aiohttp application serving only the webhook endpoint."""
    app = web.Application(client_max_size=4 * 1024 * 1024)
    app.add_routes(webhook_routes(telegram, secret, path))
    return app
