"""What the fake Bot API holds and saw, and its response helpers."""

from __future__ import annotations

import json
from dataclasses import dataclass, field
from typing import Any

from aiohttp import web

JSONDict = dict[str, Any]


@dataclass
class FakeFile:
    file_id: str
    file_unique_id: str
    file_path: str
    data: bytes


@dataclass
class Webhook:
    url: str
    secret_token: str | None
    max_connections: int = 40


@dataclass
class PendingUpdate:
    update_id: int
    kind: str
    raw: bytes


@dataclass
class FakeState:
    """Everything the fake saw and holds; tests assert on it."""

    requests: list[tuple[str, JSONDict]] = field(default_factory=list)
    pending: list[PendingUpdate] = field(default_factory=list)
    webhook: Webhook | None = None
    allowed_updates: list[str] | None = None
    members: dict[tuple[int, int], JSONDict] = field(default_factory=dict)
    files: dict[str, FakeFile] = field(default_factory=dict)
    sent: list[JSONDict] = field(default_factory=list)
    webhook_attempts: list[tuple[int, int]] = field(default_factory=list)  # (update_id, status)
    downloads: list[str] = field(default_factory=list)
    pushed: dict[int, bytes] = field(default_factory=dict)  # every update's exact bytes

    def calls(self, method: str) -> list[JSONDict]:
        return [params for name, params in self.requests if name == method]


def error_response(status: int, description: str) -> web.Response:
    body = {"ok": False, "error_code": status, "description": description}
    return web.json_response(body, status=status)


def ok_response(result: Any) -> web.Response:
    return web.json_response({"ok": True, "result": result})


def decode_form_value(value: str) -> Any:
    try:
        return json.loads(value)
    except ValueError:
        return value
