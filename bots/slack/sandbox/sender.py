"""Signed Events API and slash command deliveries, as Slack sends them."""

from __future__ import annotations

import itertools
import json
import time
import urllib.parse
from collections.abc import Mapping
from dataclasses import dataclass
from typing import Any

import aiohttp

from bots.slack.inbound import request_signature

_counter = itertools.count(1)


@dataclass(frozen=True, slots=True)
class Delivered:
    status: int
    body: str
    seconds: float
    payload: bytes
    headers: Mapping[str, str]


def envelope(team: str, event: Mapping[str, Any], event_id: str | None = None) -> dict[str, Any]:
    """An ``event_callback`` envelope around an inner event."""
    n = next(_counter)
    return {
        "token": "unused",
        "team_id": team,
        "api_app_id": "A0CHATKEEP",
        "event": dict(event),
        "type": "event_callback",
        "event_id": event_id or f"Ev{int(time.time())}{n:08d}",
        "event_time": int(time.time()),
        "authorizations": [{"team_id": team, "user_id": "UBOT", "is_bot": True}],
        "is_ext_shared_channel": False,
    }


class SlackSender:
    """Posts signed requests to a Bolt endpoint, like Slack's delivery service."""

    def __init__(self, session: aiohttp.ClientSession, base_url: str, signing_secret: str) -> None:
        self._session = session
        self._base_url = base_url.rstrip("/")
        self._secret = signing_secret

    def sign(self, body: bytes, timestamp: int | None = None) -> dict[str, str]:
        stamp = str(int(time.time()) if timestamp is None else timestamp)
        signature = request_signature(self._secret, stamp, body)
        return {"X-Slack-Request-Timestamp": stamp, "X-Slack-Signature": signature}

    async def post(
        self,
        path: str,
        body: bytes,
        *,
        content_type: str = "application/json",
        headers: Mapping[str, str] | None = None,
        signed: bool = True,
        timestamp: int | None = None,
    ) -> Delivered:
        sent = {"Content-Type": content_type}
        if signed:
            sent.update(self.sign(body, timestamp))
        sent.update(headers or {})
        started = time.perf_counter()
        async with self._session.post(self._base_url + path, data=body, headers=sent) as response:
            text = await response.text()
            return Delivered(response.status, text, time.perf_counter() - started, body, sent)

    async def event(
        self,
        payload: Mapping[str, Any],
        *,
        retry_num: int | None = None,
        path: str = "/slack/events",
    ) -> Delivered:
        headers: dict[str, str] = {}
        if retry_num:
            headers = {"X-Slack-Retry-Num": str(retry_num), "X-Slack-Retry-Reason": "http_timeout"}
        body = json.dumps(payload, separators=(",", ":")).encode()
        return await self.post(path, body, headers=headers)

    async def command(
        self,
        *,
        team: str,
        channel: str,
        user: str,
        text: str,
        name: str = "/chatkeeper",
        path: str = "/slack/commands",
        trigger_id: str | None = None,
    ) -> Delivered:
        form = {
            "token": "unused",
            "team_id": team,
            "channel_id": channel,
            "user_id": user,
            "command": name,
            "text": text,
            "api_app_id": "A0CHATKEEP",
            "response_url": "https://hooks.slack.invalid/commands/T/1/x",
            "trigger_id": trigger_id or f"{int(time.time())}.{next(_counter)}.trigger",
        }
        body = urllib.parse.urlencode(form).encode()
        return await self.post(path, body, content_type="application/x-www-form-urlencoded")
