"""``chatkeeper sandbox``: ``serve`` against the built-in Slack and Telegram fakes, by hand.

Starts the fake Slack (Web API and file host) and the fake Telegram Bot API on
loopback ephemeral ports, then the real ``serve`` wired to them: the Slack
bot in HTTP (Events API) mode with a signing secret made up for this run, the
Telegram bot polling the fake, capture mode ``all`` so every message counts.
Sealing, ``/healthz`` and ``/metrics`` run as in production, on the configured
S3 (or the embedded SeaweedFS).

A small control endpoint (loopback, an ephemeral port, a random token) lets
``chatkeeper sandbox post`` act as a person: for Slack it signs an Events API
delivery exactly as Slack would and posts it to ``serve``; for Telegram it
queues an update in the fake, which ``serve``'s polling loop fetches. Where
to find the control endpoint is written to ``sandbox.json`` in the state
directory (mode 0600) while the sandbox runs, and removed when it stops.
"""

from __future__ import annotations

import asyncio
import hashlib
import json
import os
import secrets
import time
from collections.abc import Callable
from dataclasses import replace
from pathlib import Path
from typing import Any

import aiohttp
from aiohttp import web

from archive.errors import ConfigError, SandboxError
from bots.slack.sandbox import (
    FakeSlackState,
    RunningFakeSlack,
    SlackSender,
    envelope,
    serve_fake_slack,
)
from bots.slack.settings import SlackSettings
from bots.telegram.sandbox import payloads as telegram_payloads
from bots.telegram.sandbox.fake_api import FakeBotApi
from bots.telegram.settings import TelegramSettings
from chatkeeper.serve import serve
from chatkeeper.settings import Settings

STATE_FILE = "sandbox.json"
TEAM = "T0SANDBOX"
CHANNEL = "C0GENERAL"
CHANNEL_NAME = "general"
TELEGRAM_TOKEN = "7000000001:AAsandbox-fake-token-not-a-real-bot"  # noqa: S105 (a fake)
TELEGRAM_CHAT = telegram_payloads.supergroup(-1001000000001, "Sandbox desk")
PLATFORMS = ("slack", "telegram")


def slack_user_id(name: str) -> str:
    """A stable Slack-shaped user id for a sandbox person's name."""
    return "U0" + hashlib.sha256(name.lower().encode()).hexdigest()[:8].upper()


def telegram_user_id(name: str) -> int:
    """A stable Telegram user id for a sandbox person's name."""
    return 100_000_000 + int(hashlib.sha256(name.lower().encode()).hexdigest()[:7], 16)


def sandbox_settings(
    settings: Settings, fake_slack: RunningFakeSlack, fake_telegram: FakeBotApi, port: int
) -> Settings:
    """``settings`` with both bots pointed at the fakes and the server on ``port``."""
    slack = SlackSettings(
        enabled=True,
        mode="http",
        signing_secret=secrets.token_hex(16),
        bot_token=fake_slack.state.token,
        api_base_url=fake_slack.api_base_url,
        file_hosts=(fake_slack.file_host,),
    )
    telegram = TelegramSettings(
        token=TELEGRAM_TOKEN,
        mode="polling",
        base_url=fake_telegram.base_url,
        base_file_url=fake_telegram.base_file_url,
        poll_timeout_seconds=1,
    )
    return replace(
        settings,
        slack=slack,
        telegram=telegram,
        capture=replace(settings.capture, mode="all"),
        server=replace(settings.server, host="127.0.0.1", port=port),
    )


class Sandbox:
    """The running fakes, the control endpoint, and what ``post`` does."""

    def __init__(
        self, fake_slack: RunningFakeSlack, fake_telegram: FakeBotApi, secret: str
    ) -> None:
        self.fake_slack = fake_slack
        self.fake_telegram = fake_telegram
        self.secret = secret
        self.serve_url = ""
        self.token = secrets.token_urlsafe(24)

    async def post(self, platform: str, user: str, text: str) -> dict[str, Any]:
        """Post ``text`` as ``user``; what happened (never the text)."""
        if platform == "slack":
            return await self._post_slack(user, text)
        if platform == "telegram":
            return await self._post_telegram(user, text)
        raise ConfigError(f"platform must be one of {', '.join(PLATFORMS)}")

    async def _post_slack(self, user: str, text: str) -> dict[str, Any]:
        user_id = slack_user_id(user)
        if user_id not in self.fake_slack.state.users:
            self.fake_slack.state.add_user(user_id, user)
        ts = f"{time.time():.6f}"
        event = {
            "type": "message",
            "channel": CHANNEL,
            "user": user_id,
            "text": text,
            "ts": ts,
            "channel_type": "channel",
        }
        body = envelope(TEAM, event)
        async with aiohttp.ClientSession() as http:
            delivered = await SlackSender(http, self.serve_url, self.secret).event(body)
        return {
            "platform": "slack",
            "user": user_id,
            "channel": CHANNEL,
            "event_id": body["event_id"],
            "status": delivered.status,
            "acknowledged": delivered.status == 200,
        }

    async def _post_telegram(self, user: str, text: str) -> dict[str, Any]:
        sender = telegram_payloads.user(telegram_user_id(user), user)
        message = telegram_payloads.message(
            TELEGRAM_CHAT,
            sender,
            self.fake_telegram.next_message_id(),
            text,
            date=int(time.time()),
        )
        update_id = await self.fake_telegram.push("message", message)
        try:
            await self.fake_telegram.wait_drained(15.0)
            confirmed = True
        except TimeoutError:
            confirmed = False
        return {
            "platform": "telegram",
            "user": sender["id"],
            "chat": TELEGRAM_CHAT["id"],
            "update_id": update_id,
            "acknowledged": confirmed,
        }

    def control_app(self) -> web.Application:
        async def handle(request: web.Request) -> web.Response:
            if not secrets.compare_digest(request.headers.get("X-Sandbox-Token", ""), self.token):
                return web.json_response({"error": "wrong sandbox token"}, status=403)
            try:
                data = await request.json()
                platform, user, text = str(data["platform"]), str(data["user"]), str(data["text"])
            except (ValueError, KeyError, TypeError):
                return web.json_response({"error": "expected platform, user, text"}, status=400)
            try:
                return web.json_response(await self.post(platform, user, text))
            except ConfigError as exc:
                return web.json_response({"error": str(exc)}, status=400)

        app = web.Application()
        app.add_routes([web.post("/post", handle)])
        return app


def slack_state() -> FakeSlackState:
    state = FakeSlackState(team=TEAM)
    state.add_user("U0ADMIN01", "Ada", admin=True)
    state.add_channel(CHANNEL, CHANNEL_NAME)
    return state


async def run_sandbox(
    settings: Settings,
    echo: Callable[[str], None],
    *,
    port: int = 0,
    stop: asyncio.Event | None = None,
) -> None:
    """Run the fakes and ``serve`` until ``stop`` is set (or SIGINT/SIGTERM)."""
    stop = stop or asyncio.Event()
    fake_slack = await serve_fake_slack(slack_state())
    try:
        async with FakeBotApi(
            TELEGRAM_TOKEN, username="chatkeeper_sandbox_bot", can_read_all_group_messages=True
        ) as telegram:
            wired = sandbox_settings(settings, fake_slack, telegram, port)
            sandbox = Sandbox(fake_slack, telegram, wired.slack.signing_secret)
            control = web.AppRunner(sandbox.control_app(), access_log=None)
            await control.setup()
            site = web.TCPSite(control, "127.0.0.1", 0)
            await site.start()
            state_file = settings.home / STATE_FILE
            try:

                def ready(bound: int) -> None:
                    sandbox.serve_url = f"http://127.0.0.1:{bound}"
                    control_url = f"http://127.0.0.1:{control.addresses[0][1]}"
                    _write_state(state_file, control_url, sandbox.token, sandbox.serve_url)
                    _explain(echo, settings.home, sandbox.serve_url, fake_slack, telegram)

                await serve(wired, stop=stop, on_ready=ready)
            finally:
                state_file.unlink(missing_ok=True)
                await control.cleanup()
    finally:
        await fake_slack.close()


def _write_state(path: Path, control_url: str, token: str, serve_url: str) -> None:
    path.parent.mkdir(parents=True, exist_ok=True)
    fd = os.open(path, os.O_WRONLY | os.O_CREAT | os.O_TRUNC, 0o600)
    with os.fdopen(fd, "w", encoding="utf-8") as out:
        json.dump({"control_url": control_url, "token": token, "serve_url": serve_url}, out)


def _explain(
    echo: Callable[[str], None],
    home: Path,
    serve_url: str,
    fake_slack: RunningFakeSlack,
    telegram: FakeBotApi,
) -> None:
    echo("chatkeeper sandbox is running (Ctrl-C stops it):")
    echo(f"  serve          {serve_url}  (/healthz, /metrics, /slack/events)")
    echo(f"  fake Slack     {fake_slack.api_base_url}  (workspace {TEAM}, #{CHANNEL_NAME})")
    echo(f"  fake Telegram  {telegram.root}  (chat {TELEGRAM_CHAT['title']!r})")
    echo("Post a message as a person, from another terminal:")
    echo(f'  chatkeeper --home {home} sandbox post --platform slack --user alice "hello"')
    echo(f'  chatkeeper --home {home} sandbox post --platform telegram --user bob "hi there"')
    echo("Then look: chatkeeper status, chatkeeper seal, chatkeeper verify (same --home).")


def post_to_sandbox(home: Path, platform: str, user: str, text: str) -> dict[str, Any]:
    """What ``sandbox post`` does: ask the running sandbox of ``home`` to post."""
    try:
        state = json.loads((home / STATE_FILE).read_text(encoding="utf-8"))
    except (OSError, ValueError) as exc:
        raise SandboxError(
            f"no sandbox is running for {home} (start `chatkeeper sandbox` first)"
        ) from exc

    async def send() -> dict[str, Any]:
        timeout = aiohttp.ClientTimeout(total=30)
        async with (
            aiohttp.ClientSession(timeout=timeout) as http,
            http.post(
                f"{state['control_url']}/post",
                json={"platform": platform, "user": user, "text": text},
                headers={"X-Sandbox-Token": state["token"]},
            ) as response,
        ):
            answer: dict[str, Any] = await response.json()
            if response.status != 200:
                raise SandboxError(f"the sandbox refused: {answer.get('error', response.status)}")
            return answer

    try:
        return asyncio.run(send())
    except (aiohttp.ClientError, OSError, TimeoutError) as exc:
        raise SandboxError(
            f"the sandbox of {home} does not answer ({type(exc).__name__}); is it still running?"
        ) from exc
