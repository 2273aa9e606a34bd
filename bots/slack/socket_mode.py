"""Socket Mode with the exact frame bytes kept as the record's ``raw`` (DESIGN rule 2).

Bolt's ``AsyncSocketModeHandler`` hands the app only the parsed payload. This
handler listens to the raw WebSocket frames instead, dispatches the same
``AsyncBoltRequest`` with the frame in the request context, and acknowledges
the envelope only when Bolt answered 200, i.e. after the journal commit.
"""

from __future__ import annotations

import time
from typing import Any

from slack_bolt.adapter.socket_mode.aiohttp import AsyncSocketModeHandler
from slack_bolt.adapter.socket_mode.async_internals import send_async_response
from slack_bolt.adapter.socket_mode.internals import build_headers
from slack_bolt.async_app import AsyncApp, AsyncBoltRequest
from slack_sdk.socket_mode.async_client import AsyncBaseSocketModeClient
from slack_sdk.socket_mode.request import SocketModeRequest
from slack_sdk.web.async_client import AsyncWebClient

from archive.observe import observer

RAW_FRAME = "chatkeeper_raw_frame"


class RawFrameSocketModeHandler(AsyncSocketModeHandler):
    def __init__(self, app: AsyncApp, app_token: str, web_client: AsyncWebClient) -> None:
        super().__init__(app, app_token, web_client=web_client)
        self.client.socket_mode_request_listeners.clear()
        self.client.message_listeners.append(self._on_frame)
        self.client.on_close_listeners.append(self._on_close)

    async def _on_close(self, *_: object) -> None:
        observer().connection("slack", False)

    async def _on_frame(
        self, client: AsyncBaseSocketModeClient, message: dict[str, Any], raw_message: str | None
    ) -> None:
        if message.get("type") == "hello":  # Slack greets every new connection
            observer().connection("slack", True)
        request = SocketModeRequest.from_dict(message)
        if request is None:  # hello, disconnect warnings, ...
            return
        started = time.time()
        bolt_request = AsyncBoltRequest(
            mode="socket_mode",
            body=request.payload,
            headers=build_headers(request),
            context={RAW_FRAME: raw_message},
        )
        response = await self.app.async_dispatch(bolt_request)
        await send_async_response(client, request, response, started)
        if response.status == 200:  # acked: after the journal commit
            observer().acked("slack", time.time() - started)
