"""The Slack platform object (a :class:`bots.bot.Bot`): Bolt wiring, every delivery
journaled before it is acknowledged.

``SlackBot`` builds an ``AsyncApp`` with ``process_before_response=True`` so
the listener's ``await capture(...)`` finishes before Bolt answers: a
``JournalError`` raised by the listener becomes HTTP 500 (Slack retries) and,
in Socket Mode, no envelope ack at all (Slack redelivers). Self events are
kept (``ignoring_self_events_enabled=False``) and ``message`` is subscribed
with ``app.event("message")`` so edits and deletes are not skipped.
"""

from __future__ import annotations

import asyncio
import hashlib
import re
from collections.abc import Awaitable, Callable, Coroutine, Mapping, Sequence
from datetime import timedelta
from typing import Any

import structlog
from aiohttp import ClientError, web
from slack_bolt.adapter.aiohttp import to_aiohttp_response
from slack_bolt.async_app import AsyncApp, AsyncBoltRequest
from slack_bolt.authorization import AuthorizeResult
from slack_bolt.middleware.async_middleware import AsyncMiddleware
from slack_bolt.response import BoltResponse
from slack_sdk.errors import SlackApiError, SlackClientError
from slack_sdk.web.async_client import AsyncWebClient

from archive.clock import Clock, SystemClock
from archive.codec import canonical_json
from archive.errors import JournalError
from archive.journal import Journal
from archive.model import Source
from bots.slack.admin import AdminDesk, AdminRequest
from bots.slack.backfill import HistoryRun, backfill_channel, history_client
from bots.slack.capture import SlackCapture
from bots.slack.completeness import CompletenessReport, ReconcileJob, reconcile_monitored
from bots.slack.directory import IdentityCache
from bots.slack.files import SlackFileDownloader
from bots.slack.inbound import Malformed, RequestSignature, parse_signed
from bots.slack.payload import slack_time
from bots.slack.rate_limits import RateLimitCounter
from bots.slack.settings import SlackSettings, validate_slack
from bots.slack.socket_mode import RAW_FRAME, RawFrameSocketModeHandler
from bots.slack.startup import check_bot_token, socket_url
from bots.slack.subscriptions import HANDLED_EVENTS

log = structlog.get_logger("chatkeeper.slack")

_MENTION = re.compile(r"<@[A-Z0-9]+(?:\|[^>]*)?>")
_LISTENER_TYPES = frozenset({"event_callback", "url_verification", "ssl_check"})


def source_of(request: AsyncBoltRequest) -> Source:
    return Source.SOCKET_MODE if request.mode == "socket_mode" else Source.EVENTS_API


def raw_body(request: AsyncBoltRequest, body: Mapping[str, Any]) -> bytes:
    """The bytes received: the HTTP body, or the Socket Mode frame (envelope included)."""
    if request.mode == "socket_mode":
        frame = request.context.get(RAW_FRAME)
        return frame.encode("utf-8") if isinstance(frame, str) else canonical_json(body)
    return request.raw_body.encode("utf-8")


def web_client(settings: SlackSettings) -> AsyncWebClient:
    """The bot's Web API client; no SDK retries (callers on the ack path have a deadline).

    Its one handler only counts Slack's 429 answers for the metrics.
    """
    return AsyncWebClient(
        token=settings.bot_token,
        base_url=settings.api_base_url,
        timeout=max(1, round(settings.api_timeout_seconds)),
        retry_handlers=[RateLimitCounter()],
    )


class SlackBot:
    """The Slack adapter: Bolt app, identity cache, admin desk, file queueing."""

    name = "slack"

    def __init__(
        self,
        settings: SlackSettings,
        journal: Journal,
        *,
        capture_mode: str = "opt_in",
        admin_user_ids: tuple[str, ...] = (),
        stream: str = "main",
        clock: Clock | None = None,
        on_backfill: Callable[[str, str, int], Coroutine[Any, Any, object]] | None = None,
    ) -> None:
        validate_slack(settings)
        self.settings = settings
        self.journal = journal
        self.capture_mode = capture_mode
        self.clock = clock or SystemClock()
        self.client = web_client(settings)
        self.identity = IdentityCache(self.client, self.clock, settings.identity_cache_seconds)
        self.capture = SlackCapture(
            journal, self.identity, self.clock, capture_mode, settings.api_timeout_seconds
        )
        self.admin = AdminDesk(
            journal,
            self.client,
            self.identity,
            admin_user_ids=admin_user_ids,
            stream=stream,
            capture_mode=capture_mode,
            on_backfill=on_backfill or self.backfill,
        )
        token = settings.bot_token

        async def authorize(enterprise_id: str | None, team_id: str | None) -> AuthorizeResult:
            # One workspace, one bot token: no auth.test per process. Bolt's single-team
            # authorization answers 200 without running listeners when auth.test fails
            # (revoked token, rate limit), which would acknowledge an event never journaled.
            return AuthorizeResult(enterprise_id=enterprise_id, team_id=team_id, bot_token=token)

        self.app = AsyncApp(
            # a client without a token makes Bolt use ``authorize`` (see above)
            client=AsyncWebClient(base_url=settings.api_base_url, timeout=self.client.timeout),
            authorize=authorize,
            signing_secret=settings.signing_secret or None,
            process_before_response=True,
            ignoring_self_events_enabled=False,
            ignoring_self_assistant_message_events_enabled=False,
            request_verification_enabled=settings.mode == "http",
            attaching_conversation_kwargs_enabled=False,  # no say()/assistant helpers needed
            name="chatkeeper.slack.bolt",  # Bolt resets the level of the logger so named
        )
        self.app.middleware(_KeepPayloadsWithoutListener(self))
        special = {"app_mention": self._on_mention, "user_change": self._on_user_change}
        for handled in HANDLED_EVENTS:  # what deploy/slack-app-manifest.yml subscribes to
            self.app.event(handled.type)(special.get(handled.type, self._on_event))
        self.app.event(re.compile(r".*"))(self._on_event)  # anything else is kept as other
        self.app.command(settings.command_name)(self._on_command)
        self.signature = RequestSignature(settings.signing_secret)
        self.socket_handler: RawFrameSocketModeHandler | None = None
        self._reconciler: asyncio.Task[None] | None = None

    # -- capture ---------------------------------------------------------------
    async def _on_event(self, body: dict[str, Any], request: AsyncBoltRequest) -> None:
        await self.capture.capture_envelope(body, raw_body(request, body), source_of(request))

    async def _on_user_change(self, body: dict[str, Any], request: AsyncBoltRequest) -> None:
        user = body.get("event", {}).get("user")
        if isinstance(user, Mapping):
            self.identity.remember_user(user)
        await self._on_event(body, request)

    async def backfill(self, team: str, channel: str, days: int) -> HistoryRun:
        """``on --backfill=DAYS``: fetch the channel's recent history into the journal."""
        client = history_client(self.settings.bot_token, self.settings.api_base_url)
        return await backfill_channel(
            self.journal,
            client,
            team=team,
            channel=channel,
            oldest=self.clock.now() - timedelta(days=days),
            page_size=self.settings.backfill_page_size,
            requests_per_minute=self.settings.backfill_requests_per_minute,
            identity=self.identity,
            clock=self.clock,
        )

    async def reconcile(self) -> list[CompletenessReport]:
        """The reconciliation job over every captured conversation (``slack.reconcile_days``)."""
        return await reconcile_monitored(
            self.journal,
            history_client(self.settings.bot_token, self.settings.api_base_url),
            since=self.clock.now() - timedelta(days=self.settings.reconcile_days),
            page_size=self.settings.backfill_page_size,
            requests_per_minute=self.settings.backfill_requests_per_minute,
            clock=self.clock,
        )

    # -- admin -----------------------------------------------------------------
    async def _on_command(
        self, body: dict[str, Any], request: AsyncBoltRequest, ack: Callable[..., Awaitable[None]]
    ) -> None:
        reply = await self.admin.handle(
            AdminRequest(
                team=str(body.get("team_id", "")),
                channel=str(body.get("channel_id", "")),
                user=str(body.get("user_id", "")),
                text=str(body.get("text", "")),
                identity=str(
                    body.get("trigger_id") or hashlib.sha256(raw_body(request, body)).hexdigest()
                ),
                source=source_of(request),
                raw=raw_body(request, body),
                occurred_at=self.clock.now(),
                captured_at=self.clock.now(),
            )
        )
        self.capture.forget_monitoring(
            str(body.get("team_id", "")), str(body.get("channel_id", ""))
        )
        await ack(text=reply, response_type="ephemeral")

    async def _on_mention(self, body: dict[str, Any], request: AsyncBoltRequest) -> None:
        event = body.get("event", {})
        channel = str(event.get("channel", ""))
        user = str(event.get("user", ""))
        reply = await self.admin.handle(
            AdminRequest(
                team=str(body.get("team_id", "")),
                channel=channel,
                user=user,
                text=_MENTION.sub(" ", str(event.get("text", ""))).strip(),
                identity=str(body.get("event_id", "")),
                source=source_of(request),
                raw=raw_body(request, body),
                occurred_at=slack_time(event.get("ts")) or self.clock.now(),
                captured_at=self.clock.now(),
            )
        )
        self.capture.forget_monitoring(str(body.get("team_id", "")), channel)
        try:
            await self.client.chat_postEphemeral(channel=channel, user=user, text=reply)
        except (
            SlackApiError,
            SlackClientError,
            OSError,
            ClientError,
            TimeoutError,
        ) as exc:  # the attempt is journaled
            log.warning("slack.reply_failed", channel=channel, error=type(exc).__name__)

    # -- HTTP ------------------------------------------------------------------
    async def handle_http(self, request: web.Request) -> web.Response:
        """POST /slack/events and /slack/commands: verify the raw bytes, then parse, then Bolt.

        Unsigned, forged or stale requests get 401 before any parsing; a signed but
        malformed body is kept as an ``other`` record and answered 400 (500 if the
        journal fails, so Slack retries). See :mod:`bots.slack.inbound`.
        """
        body = await request.read()
        stamp = request.headers.get("X-Slack-Request-Timestamp")
        if not self.signature.valid(body, stamp, request.headers.get("X-Slack-Signature")):
            log.warning("slack.request_refused", path=request.path)
            return web.json_response({"error": "invalid request"}, status=401)
        headers: dict[str, str | Sequence[str]] = {
            k: request.headers.getall(k) for k in request.headers
        }
        parsed = parse_signed(body, request.query_string, headers)
        if isinstance(parsed, Malformed):
            try:
                await self.capture.keep_payload(
                    parsed.body, body, Source.EVENTS_API, malformed=parsed.reason
                )
            except JournalError as exc:
                log.error("slack.journal_failed", error=type(exc).__name__)
                return web.Response(status=500, text="not stored, retry")
            log.warning("slack.malformed_request", path=request.path, reason=parsed.reason)
            return web.Response(status=400, text=f"malformed request: {parsed.reason}")
        return await to_aiohttp_response(await self.app.async_dispatch(parsed))

    async def start_socket_mode(self) -> RawFrameSocketModeHandler:
        """Connect over Socket Mode; envelopes are acked only after the journal commit."""
        url = await socket_url(self.client, self.settings.app_token)  # a refused token stops here
        handler = RawFrameSocketModeHandler(self.app, self.settings.app_token, self.client)
        handler.client.wss_uri = url
        await handler.connect_async()  # type: ignore[no-untyped-call]
        self.socket_handler = handler
        return handler

    def reconcile_job(self) -> ReconcileJob:
        s = self.settings
        return ReconcileJob(
            self.journal,
            history_client(s.bot_token, s.api_base_url),
            interval_seconds=s.reconcile_interval_seconds,
            window=timedelta(days=s.reconcile_days),
            page_size=s.backfill_page_size,
            requests_per_minute=s.backfill_requests_per_minute,
            clock=self.clock,
        )

    async def start(self) -> None:
        """Check the bot token, then Socket Mode (if configured) and reconciliation (if enabled)."""
        await check_bot_token(self.client)
        if self.settings.mode == "socket":
            await self.start_socket_mode()
        if self.settings.reconcile_interval_seconds > 0:
            self._reconciler = asyncio.create_task(self.reconcile_job().run_forever())

    async def stop(self) -> None:
        if self._reconciler is not None:
            self._reconciler.cancel()
            self._reconciler = None
        if self.socket_handler is not None:
            await self.socket_handler.close_async()  # type: ignore[no-untyped-call]
            self.socket_handler = None
        for task in list(self.admin.tasks):
            task.cancel()

    def routes(self) -> list[web.RouteDef]:
        """The HTTP endpoints (Events API, slash commands); none in Socket Mode."""
        return [] if self.settings.mode == "socket" else self.http_routes()

    def http_routes(self) -> list[web.RouteDef]:
        """The Events API and slash command endpoints, whatever the mode."""
        paths = dict.fromkeys([self.settings.events_path, self.settings.commands_path])
        return [web.post(path, self.handle_http) for path in paths]

    def downloader(self) -> SlackFileDownloader:
        """The Slack downloader for the shared attachment worker."""
        s = self.settings
        return SlackFileDownloader(web_client(s), s.bot_token, s.file_hosts)

    def web_app(self) -> web.Application:
        """An aiohttp application serving the Events API and slash command endpoints."""
        application = web.Application(client_max_size=4 * 1024 * 1024)
        application.add_routes(self.http_routes())
        return application


class _KeepPayloadsWithoutListener(AsyncMiddleware):
    """Global middleware (class-based: no per-request argument injection) for odd payloads."""

    def __init__(self, bot: SlackBot) -> None:
        self._bot = bot

    async def async_process(
        self,
        *,
        req: AsyncBoltRequest,
        resp: BoltResponse,
        next: Callable[[], Awaitable[BoltResponse]],
    ) -> BoltResponse | None:
        body = req.body
        kind = body.get("type")
        malformed = kind == "event_callback" and not isinstance(body.get("event"), Mapping)
        if not malformed and (
            "command" in body or kind in _LISTENER_TYPES or not isinstance(kind, str)
        ):
            return await next()
        await self._bot.capture.keep_payload(body, raw_body(req, body), source_of(req))
        return BoltResponse(status=200, body="")
