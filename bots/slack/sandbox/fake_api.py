"""A fake Slack Web API and file host on loopback, for tests, the demo and benchmarks.

It answers the methods chatkeeper calls, records every call (method, params,
whether the bot token was presented), paginates history, can answer 429 with
``Retry-After``, and serves file bytes only to the bot token.
"""

from __future__ import annotations

import asyncio
import json
from collections.abc import Mapping
from dataclasses import dataclass, field
from typing import Any

from aiohttp import WSMsgType, web


@dataclass
class ApiCall:
    method: str
    params: dict[str, Any]
    authorized: bool


@dataclass
class FakeFile:
    id: str
    name: str
    data: bytes
    mimetype: str = "application/octet-stream"
    external_url: str | None = None  # a file hosted outside Slack


@dataclass
class FakeSlackState:
    """Everything the fake knows; tests edit it directly."""

    team: str = "T0SANDBOX"
    bot_user: str = "UBOT"
    bot_id: str = "BBOT"
    token: str = "xoxb-sandbox-token"  # noqa: S105 (a fake)
    app_token: str = "xapp-1-sandbox-token"  # noqa: S105 (a fake)
    users: dict[str, dict[str, Any]] = field(default_factory=dict)
    channels: dict[str, dict[str, Any]] = field(default_factory=dict)
    history: dict[str, list[dict[str, Any]]] = field(default_factory=dict)  # channel -> messages
    files: dict[str, FakeFile] = field(default_factory=dict)
    rate_limit: dict[str, int] = field(default_factory=dict)  # method -> 429s still to send
    download_failures: dict[str, int] = field(default_factory=dict)  # file id -> 503s still to send
    delays: dict[str, float] = field(default_factory=dict)  # method -> seconds before answering
    calls: list[ApiCall] = field(default_factory=list)
    downloads: list[tuple[str, bool]] = field(default_factory=list)  # (path, had token)
    posted: list[dict[str, Any]] = field(default_factory=list)
    socket_acks: list[dict[str, Any]] = field(default_factory=list)  # Socket Mode acks received

    def add_user(
        self, user_id: str, name: str, *, admin: bool = False, email: str | None = None
    ) -> None:
        self.users[user_id] = {
            "id": user_id,
            "name": name.lower(),
            "real_name": name,
            "is_admin": admin,
            "is_owner": False,
            "is_bot": False,
            "profile": {"display_name": name, "email": email or f"{name.lower()}@example.com"},
        }

    def add_channel(
        self, channel_id: str, name: str, *, private: bool = False, member: bool = True
    ) -> None:
        self.channels[channel_id] = {
            "id": channel_id,
            "name": name,
            "is_channel": True,
            "is_private": private,
            "is_member": member,
            "is_archived": False,
        }
        self.history.setdefault(channel_id, [])

    def calls_to(self, method: str) -> list[ApiCall]:
        return [c for c in self.calls if c.method == method]


def _page(
    items: list[dict[str, Any]], params: Mapping[str, Any]
) -> tuple[list[dict[str, Any]], str]:
    limit = max(1, min(int(params.get("limit") or 100), 999))
    start = int(params.get("cursor") or 0)
    chunk = items[start : start + limit]
    following = start + limit
    return chunk, str(following) if following < len(items) else ""


class FakeSlackApi:
    """The aiohttp application; start it with :func:`serve_fake_slack`."""

    def __init__(self, state: FakeSlackState) -> None:
        self.state = state
        self.base_url = ""
        self.sockets: list[web.WebSocketResponse] = []
        self.acked = asyncio.Condition()

    def application(self) -> web.Application:
        app = web.Application()
        app.router.add_route("*", "/api/{method}", self._api)
        app.router.add_get("/files-pri/{file_id}/{name}", self._download)
        app.router.add_get("/link", self._socket)
        return app

    async def _params(self, request: web.Request) -> dict[str, Any]:
        params: dict[str, Any] = dict(request.query)
        if request.method == "POST" and request.can_read_body:
            if request.content_type == "application/json":
                loaded = await request.json()
                if isinstance(loaded, dict):
                    params.update(loaded)
            else:
                params.update(dict(await request.post()))
        return params

    async def _api(self, request: web.Request) -> web.Response:
        method = request.match_info["method"]
        params = await self._params(request)
        token = self.state.app_token if method == "apps.connections.open" else self.state.token
        authorized = request.headers.get("Authorization") == f"Bearer {token}"
        self.state.calls.append(ApiCall(method, params, authorized))
        if method in self.state.delays:
            await asyncio.sleep(self.state.delays[method])
        if self.state.rate_limit.get(method, 0) > 0:
            self.state.rate_limit[method] -= 1
            return web.json_response(
                {"ok": False, "error": "ratelimited"}, status=429, headers={"Retry-After": "1"}
            )
        if not authorized:
            return web.json_response({"ok": False, "error": "not_authed"})
        handler = getattr(self, "_m_" + method.replace(".", "_"), None)
        if handler is None:
            return web.json_response({"ok": False, "error": "unknown_method"})
        result: dict[str, Any] = handler(params)
        return web.json_response(result)

    def _m_auth_test(self, params: Mapping[str, Any]) -> dict[str, Any]:
        s = self.state
        return {
            "ok": True,
            "team_id": s.team,
            "user_id": s.bot_user,
            "bot_id": s.bot_id,
            "team": "Sandbox",
        }

    def _m_apps_connections_open(self, params: Mapping[str, Any]) -> dict[str, Any]:
        return {"ok": True, "url": self.base_url.replace("http://", "ws://") + "link"}

    def _m_users_info(self, params: Mapping[str, Any]) -> dict[str, Any]:
        user = self.state.users.get(str(params.get("user")))
        return {"ok": True, "user": user} if user else {"ok": False, "error": "user_not_found"}

    def _m_conversations_info(self, params: Mapping[str, Any]) -> dict[str, Any]:
        channel = self.state.channels.get(str(params.get("channel")))
        return (
            {"ok": True, "channel": channel}
            if channel
            else {"ok": False, "error": "channel_not_found"}
        )

    def _m_conversations_join(self, params: Mapping[str, Any]) -> dict[str, Any]:
        channel = self.state.channels.get(str(params.get("channel")))
        if channel is None:
            return {"ok": False, "error": "channel_not_found"}
        if channel.get("is_private"):
            return {"ok": False, "error": "method_not_supported_for_channel_type"}
        channel["is_member"] = True
        return {"ok": True, "channel": channel}

    def _m_conversations_history(self, params: Mapping[str, Any]) -> dict[str, Any]:
        messages = self.state.history.get(str(params.get("channel")))
        if messages is None:
            return {"ok": False, "error": "channel_not_found"}
        oldest = float(params.get("oldest") or 0)
        parents = [
            m
            for m in messages
            if m.get("thread_ts") in (None, m["ts"]) and float(m["ts"]) >= oldest
        ]
        parents.sort(key=lambda m: float(m["ts"]), reverse=True)  # newest first, like Slack
        chunk, cursor = _page(parents, params)
        return {
            "ok": True,
            "messages": chunk,
            "has_more": bool(cursor),
            "response_metadata": {"next_cursor": cursor},
        }

    def _m_conversations_replies(self, params: Mapping[str, Any]) -> dict[str, Any]:
        messages = self.state.history.get(str(params.get("channel")), [])
        ts = str(params.get("ts"))
        thread = [m for m in messages if m.get("thread_ts", m["ts"]) == ts or m["ts"] == ts]
        if not thread:
            return {"ok": False, "error": "thread_not_found"}
        thread.sort(key=lambda m: float(m["ts"]))
        chunk, cursor = _page(thread, params)
        return {
            "ok": True,
            "messages": chunk,
            "has_more": bool(cursor),
            "response_metadata": {"next_cursor": cursor},
        }

    def _file_object(self, file: FakeFile) -> dict[str, Any]:
        url = file.external_url or f"{self.base_url}files-pri/{file.id}/download"
        return {
            "id": file.id,
            "name": file.name,
            "mimetype": file.mimetype,
            "size": len(file.data),
            "mode": "external" if file.external_url else "hosted",
            "is_external": bool(file.external_url),
            "url_private": url,
            "url_private_download": url,
        }

    def _m_files_info(self, params: Mapping[str, Any]) -> dict[str, Any]:
        file = self.state.files.get(str(params.get("file")))
        return (
            {"ok": True, "file": self._file_object(file)}
            if file
            else {"ok": False, "error": "file_not_found"}
        )

    def _m_chat_postMessage(self, params: Mapping[str, Any]) -> dict[str, Any]:
        self.state.posted.append(dict(params))
        return {"ok": True, "channel": params.get("channel"), "ts": "1700000000.000001"}

    def _m_chat_postEphemeral(self, params: Mapping[str, Any]) -> dict[str, Any]:
        self.state.posted.append(dict(params))
        return {"ok": True, "message_ts": "1700000000.000002"}

    async def _socket(self, request: web.Request) -> web.WebSocketResponse:
        """Socket Mode: say hello, then record every ack the app sends back."""
        ws = web.WebSocketResponse(autoping=True)
        await ws.prepare(request)
        self.sockets.append(ws)
        await ws.send_json(
            {"type": "hello", "num_connections": 1, "connection_info": {"app_id": "A0"}}
        )
        async for message in ws:
            if message.type == WSMsgType.TEXT:
                async with self.acked:
                    self.state.socket_acks.append(json.loads(message.data))
                    self.acked.notify_all()
        self.sockets.remove(ws)
        return ws

    async def push(
        self, kind: str, payload: Mapping[str, Any], envelope_id: str, retry_attempt: int = 0
    ) -> None:
        """Send one Socket Mode envelope to every connected client."""
        message = {
            "envelope_id": envelope_id,
            "payload": dict(payload),
            "type": kind,
            "accepts_response_payload": kind != "events_api",
            "retry_attempt": retry_attempt,
            "retry_reason": "timeout" if retry_attempt else "",
        }
        for ws in list(self.sockets):
            await ws.send_json(message)

    async def wait_for_ack(self, envelope_id: str, timeout: float = 5.0) -> dict[str, Any] | None:
        """The ack for ``envelope_id``, or None if none came within ``timeout`` seconds."""

        def found() -> dict[str, Any] | None:
            return next(
                (a for a in self.state.socket_acks if a.get("envelope_id") == envelope_id), None
            )

        async with self.acked:
            try:
                await asyncio.wait_for(self.acked.wait_for(lambda: found() is not None), timeout)
            except TimeoutError:
                return None
            return found()

    async def wait_for_socket(self, timeout: float = 5.0) -> None:
        deadline = asyncio.get_running_loop().time() + timeout
        while not self.sockets:
            if asyncio.get_running_loop().time() > deadline:
                raise TimeoutError("no Socket Mode client connected")
            await asyncio.sleep(0.01)

    async def _download(self, request: web.Request) -> web.StreamResponse:
        had_token = request.headers.get("Authorization") == f"Bearer {self.state.token}"
        self.state.downloads.append((request.path, had_token))
        file = self.state.files.get(request.match_info["file_id"])
        if not had_token:  # Slack answers an HTML login page, not the bytes
            return web.Response(text="<html>sign in</html>", content_type="text/html")
        if file is None:
            return web.Response(status=404)
        if self.state.download_failures.get(file.id, 0) > 0:
            self.state.download_failures[file.id] -= 1
            return web.Response(status=503)
        return web.Response(body=file.data, content_type=file.mimetype)


@dataclass
class RunningFakeSlack:
    state: FakeSlackState
    api: FakeSlackApi
    runner: web.AppRunner
    base_url: str  # http://127.0.0.1:PORT/

    @property
    def api_base_url(self) -> str:
        return self.base_url + "api/"

    @property
    def file_host(self) -> str:
        return "127.0.0.1"

    def file_url(self, file_id: str) -> str:
        return f"{self.base_url}files-pri/{file_id}/download"

    async def close(self) -> None:
        await self.runner.cleanup()


async def serve_fake_slack(state: FakeSlackState | None = None) -> RunningFakeSlack:
    """Start the fake on an ephemeral loopback port."""
    state = state or FakeSlackState()
    api = FakeSlackApi(state)
    runner = web.AppRunner(api.application(), access_log=None)
    await runner.setup()
    site = web.TCPSite(runner, "127.0.0.1", 0)
    await site.start()
    port = runner.addresses[0][1]
    base = f"http://127.0.0.1:{port}/"
    api.base_url = base
    await asyncio.sleep(0)
    return RunningFakeSlack(state, api, runner, base)


def dumps(value: Any) -> str:
    return json.dumps(value, separators=(",", ":"))
