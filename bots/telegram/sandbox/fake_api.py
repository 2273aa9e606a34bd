"""A fake Telegram Bot API over loopback HTTP, for the demo and the tests.

It speaks what python-telegram-bot speaks: form-encoded POSTs to
``/bot<token>/<method>`` whose non-string values are JSON, answers
``{"ok": true, "result": ...}``, and reports errors by HTTP status as Telegram
does (400 bad request, 401 wrong token, 404 unknown method, 409 getUpdates while
a webhook is set). Updates are kept as the exact bytes pushed; ``getUpdates``
confirms by offset, honours ``timeout`` and the sticky ``allowed_updates``; a
set webhook gets each update POSTed with the secret header and retried until
it answers 2xx. Files are served under ``/file/bot<token>/<file_path>``; the
cloud limit of 20 MB applies to ``getFile`` unless ``local_mode`` is on.
"""

from __future__ import annotations

import asyncio
import contextlib
import hashlib
import json
from pathlib import Path

from aiohttp import ClientError, ClientSession, ClientTimeout, web

from bots.telegram.sandbox.payloads import chat_member
from bots.telegram.sandbox.state import (
    FakeFile,
    FakeState,
    JSONDict,
    PendingUpdate,
    Webhook,
    decode_form_value,
    error_response,
    ok_response,
)

CLOUD_DOWNLOAD_LIMIT = 20 * 1024 * 1024
# Sent when allowed_updates was never set or is empty (Bot API "getUpdates").
DEFAULT_EXCLUDED = frozenset({"chat_member", "message_reaction", "message_reaction_count"})


class FakeBotApi:
    def __init__(
        self,
        token: str,
        *,
        username: str = "chatkeeper_bot",
        can_read_all_group_messages: bool = False,
        local_mode: bool = False,
        webhook_retry_seconds: float = 0.05,
        webhook_max_attempts: int = 50,
    ) -> None:
        self.token = token
        self.bot_id = int(token.partition(":")[0])
        self.username = username
        self.can_read_all_group_messages = can_read_all_group_messages
        self.local_mode = local_mode
        # Like ``telegram-bot-api --local``: getFile answers an absolute path in this folder.
        self.local_dir: Path | None = None
        self.state = FakeState()
        self._retry = webhook_retry_seconds
        self._max_attempts = webhook_max_attempts
        self._next_update_id = 100_000
        self._next_message_id = 9_000
        self._changed = asyncio.Condition()
        self._runner: web.AppRunner | None = None
        self._deliverer: asyncio.Task[None] | None = None
        self.root = ""

    # -- lifecycle ----------------------------------------------------------
    async def start(self) -> FakeBotApi:
        app = web.Application(client_max_size=64 * 1024 * 1024)
        app.router.add_post("/bot{token}/{method}", self._method)
        app.router.add_get("/file/bot{token}/{path:.+}", self._download)
        self._runner = web.AppRunner(app, access_log=None)
        await self._runner.setup()
        site = web.TCPSite(self._runner, "127.0.0.1", 0)
        await site.start()
        port = self._runner.addresses[0][1]
        self.root = f"http://127.0.0.1:{port}"
        self._deliverer = asyncio.create_task(self._deliver_webhook())
        return self

    async def stop(self) -> None:
        if self._deliverer is not None:
            self._deliverer.cancel()
            with contextlib.suppress(asyncio.CancelledError):
                await self._deliverer
        if self._runner is not None:
            await self._runner.cleanup()

    async def __aenter__(self) -> FakeBotApi:
        return await self.start()

    async def __aexit__(self, *exc: object) -> None:
        await self.stop()

    @property
    def base_url(self) -> str:
        return f"{self.root}/bot"

    @property
    def base_file_url(self) -> str:
        return f"{self.root}/file/bot"

    # -- test/demo controls --------------------------------------------------
    async def push(
        self, kind: str, body: JSONDict, *, indent: int | None = None, force: bool = False
    ) -> int:
        """Queue an update of type ``kind``; returns its update_id (0 if not subscribed).

        ``indent`` serializes it with white space, as a proxy might, to check
        that the exact bytes are kept; ``force`` delivers a type the bot did not
        (or could not) ask for, like one added to the Bot API after this release.
        """
        allowed = self.state.allowed_updates
        excluded = (allowed and kind not in allowed) or (not allowed and kind in DEFAULT_EXCLUDED)
        if excluded and not force:
            return 0  # Telegram never creates updates the bot did not ask for
        self._next_update_id += 1
        update_id = self._next_update_id
        payload = {"update_id": update_id, kind: body}
        separators = (",", ": ") if indent is not None else (",", ":")
        raw = json.dumps(payload, ensure_ascii=False, indent=indent, separators=separators).encode()
        self.state.pushed[update_id] = raw
        async with self._changed:
            self.state.pending.append(PendingUpdate(update_id, kind, raw))
            self._changed.notify_all()
        return update_id

    def skip_updates(self, count: int) -> None:
        """Use up ``count`` update ids, as updates delivered in an earlier session did."""
        self._next_update_id += count

    def next_message_id(self) -> int:
        self._next_message_id += 1
        return self._next_message_id

    def set_member(self, chat_id: int, user: JSONDict, status: str) -> None:
        """Set ``user``'s status in the chat, with the fields Telegram sends for it."""
        self.state.members[(chat_id, int(user["id"]))] = chat_member(status, user)

    def add_file(self, data: bytes, *, name: str = "file.bin") -> JSONDict:
        """Host a file; returns the Bot API fields a message would carry for it."""
        digest = hashlib.sha256(data).hexdigest()
        fake = FakeFile(f"F-{digest[:24]}", f"U{digest[:12]}", f"documents/{name}", data)
        self.state.files[fake.file_id] = fake
        return {
            "file_id": fake.file_id,
            "file_unique_id": fake.file_unique_id,
            "file_size": len(data),
        }

    async def wait_drained(self, timeout: float = 10.0) -> None:
        """Wait until every pending update has been confirmed or accepted."""
        async with asyncio.timeout(timeout), self._changed:
            await self._changed.wait_for(lambda: not self.state.pending)

    # -- HTTP ------------------------------------------------------------------
    async def _method(self, request: web.Request) -> web.Response:
        if request.match_info["token"] != self.token:
            return error_response(401, "Unauthorized")
        form = await request.post()
        params = {k: decode_form_value(str(v)) for k, v in form.items()}
        method = request.match_info["method"]
        self.state.requests.append((method, params))
        handler = getattr(self, f"_api_{method}", None)
        if handler is None:
            return error_response(404, "Not Found: method not found")
        result: web.Response = await handler(params)
        return result

    async def _download(self, request: web.Request) -> web.StreamResponse:
        if request.match_info["token"] != self.token:
            return error_response(401, "Unauthorized")
        path = request.match_info["path"]
        found = next((f for f in self.state.files.values() if f.file_path == path), None)
        if found is None:
            return error_response(404, "Not Found")
        self.state.downloads.append(path)
        return web.Response(body=found.data, content_type="application/octet-stream")

    # -- Bot API methods ---------------------------------------------------------
    async def _api_getMe(self, params: JSONDict) -> web.Response:
        return ok_response(
            {
                "id": self.bot_id,
                "is_bot": True,
                "first_name": "chatkeeper",
                "username": self.username,
                "can_join_groups": True,
                "can_read_all_group_messages": self.can_read_all_group_messages,
                "supports_inline_queries": False,
                "can_connect_to_business": True,
            }
        )

    async def _api_getUpdates(self, params: JSONDict) -> web.Response:
        if self.state.webhook is not None:
            return error_response(
                409, "Conflict: can't use getUpdates method while webhook is active"
            )
        if "allowed_updates" in params:
            self.state.allowed_updates = list(params["allowed_updates"]) or None
        offset = int(params.get("offset", 0))
        limit = int(params.get("limit", 100))
        timeout = float(params.get("timeout", 0))
        async with self._changed:
            if offset:
                self.state.pending = [u for u in self.state.pending if u.update_id >= offset]
                self._changed.notify_all()
            if not self.state.pending and timeout > 0:
                with contextlib.suppress(TimeoutError):
                    async with asyncio.timeout(timeout):
                        await self._changed.wait_for(lambda: bool(self.state.pending))
            batch = [u.raw for u in self.state.pending[:limit]]
        body = b'{"ok":true,"result":[' + b",".join(batch) + b"]}"
        return web.Response(body=body, content_type="application/json")

    async def _api_setWebhook(self, params: JSONDict) -> web.Response:
        if "allowed_updates" in params:
            self.state.allowed_updates = list(params["allowed_updates"]) or None
        secret = params.get("secret_token")
        self.state.webhook = Webhook(
            str(params["url"]),
            str(secret) if secret is not None else None,
            int(params.get("max_connections", 40)),
        )
        async with self._changed:
            self._changed.notify_all()
        return ok_response(True)

    async def _api_deleteWebhook(self, params: JSONDict) -> web.Response:
        self.state.webhook = None
        if params.get("drop_pending_updates") is True:
            self.state.pending.clear()
        return ok_response(True)

    async def _api_getWebhookInfo(self, params: JSONDict) -> web.Response:
        hook = self.state.webhook
        return ok_response(
            {
                "url": hook.url if hook else "",
                "has_custom_certificate": False,
                "pending_update_count": len(self.state.pending),
                "allowed_updates": self.state.allowed_updates or [],
            }
        )

    async def _api_getChatMember(self, params: JSONDict) -> web.Response:
        chat_id, user_id = int(params["chat_id"]), int(params["user_id"])
        member = self.state.members.get((chat_id, user_id))
        if member is None:
            user = {"id": user_id, "is_bot": False, "first_name": f"user{user_id}"}
            member = {"status": "member", "user": user}
        return ok_response(member)

    async def _api_getChatAdministrators(self, params: JSONDict) -> web.Response:
        chat_id = int(params["chat_id"])
        admins = [
            m
            for (chat, _), m in self.state.members.items()
            if chat == chat_id and m["status"] in {"creator", "administrator"}
        ]
        return ok_response(admins)

    async def _api_getFile(self, params: JSONDict) -> web.Response:
        found = self.state.files.get(str(params.get("file_id")))
        if found is None:
            return error_response(400, "Bad Request: invalid file_id")
        if len(found.data) > CLOUD_DOWNLOAD_LIMIT and not self.local_mode:
            return error_response(400, "Bad Request: file is too big")
        file_path = found.file_path
        if self.local_mode and self.local_dir is not None:
            local = self.local_dir / found.file_path
            local.parent.mkdir(parents=True, exist_ok=True)
            local.write_bytes(found.data)
            file_path = str(local.resolve())
        return ok_response(
            {
                "file_id": found.file_id,
                "file_unique_id": found.file_unique_id,
                "file_size": len(found.data),
                "file_path": file_path,
            }
        )

    async def _api_sendMessage(self, params: JSONDict) -> web.Response:
        self.state.sent.append(params)
        chat_id = int(params["chat_id"])
        message = {
            "message_id": self.next_message_id(),
            "date": 1_790_000_000,
            "chat": {"id": chat_id, "type": "supergroup" if chat_id < 0 else "private"},
            "from": {"id": self.bot_id, "is_bot": True, "first_name": "chatkeeper"},
            "text": str(params.get("text", "")),
        }
        return ok_response(message)

    async def _api_setMyCommands(self, params: JSONDict) -> web.Response:
        return ok_response(True)

    # -- webhook delivery ----------------------------------------------------------
    async def _deliver_webhook(self) -> None:
        async with ClientSession(timeout=ClientTimeout(total=30)) as session:
            while True:
                async with self._changed:
                    await self._changed.wait_for(
                        lambda: self.state.webhook is not None and bool(self.state.pending)
                    )
                    hook, update = self.state.webhook, self.state.pending[0]
                assert hook is not None
                status = await self._post_update(session, hook, update)
                attempts = sum(
                    1 for uid, _ in self.state.webhook_attempts if uid == update.update_id
                )
                if 200 <= status < 300 or attempts >= self._max_attempts:
                    async with self._changed:
                        if self.state.pending and self.state.pending[0] is update:
                            self.state.pending.pop(0)
                        self._changed.notify_all()
                else:
                    await asyncio.sleep(self._retry)

    async def _post_update(
        self, session: ClientSession, hook: Webhook, update: PendingUpdate
    ) -> int:
        headers = {"Content-Type": "application/json"}
        if hook.secret_token:
            headers["X-Telegram-Bot-Api-Secret-Token"] = hook.secret_token
        try:
            async with session.post(hook.url, data=update.raw, headers=headers) as response:
                status = response.status
        except (ClientError, TimeoutError):
            status = 0
        self.state.webhook_attempts.append((update.update_id, status))
        return status
