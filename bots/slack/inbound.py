"""The checks an Events API or slash command request passes before Bolt sees it.

Bolt's ``AsyncBoltRequest`` parses the body when it is built, i.e. before its
request verification middleware runs, and a body it cannot parse (invalid
JSON, a JSON array or string, nesting past Python's recursion limit) raised
out of the handler as HTTP 500. So the endpoint goes in this order:

1. :meth:`RequestSignature.valid` checks ``X-Slack-Signature`` over the raw
   bytes and ``X-Slack-Request-Timestamp`` within 5 minutes. Anything else is
   answered 401 without a single byte of the body being parsed. (Bolt's own
   verification still runs afterwards.)
2. :func:`parse_signed` turns the verified bytes into Bolt's request, or says
   why they are malformed (:class:`Malformed`): not UTF-8, nested deeper than
   :data:`~bots.json_depth.MAX_JSON_DEPTH`, not a JSON object or form, an
   ``event_callback`` whose ``event`` is not an object, or a payload that is
   neither an event, an interaction, a command nor an SSL check. The endpoint
   keeps a malformed body as an ``other`` record and answers 400.
"""

from __future__ import annotations

import hashlib
import hmac
import time
from collections.abc import Callable, Mapping, Sequence
from dataclasses import dataclass, field
from typing import Any
from urllib.parse import parse_qsl

from slack_bolt.async_app import AsyncBoltRequest

from bots.json_depth import MAX_JSON_DEPTH, nests_deeper_than

# What building a Bolt request raises on a body of the wrong shape.
_PARSE_ERRORS = (ValueError, TypeError, AttributeError, KeyError, IndexError, RecursionError)


SIGNATURE_WINDOW_SECONDS = 300


def request_signature(secret: str, timestamp: str, body: bytes) -> str:
    """Slack's v0 signature: ``v0=`` + hex HMAC-SHA256 of ``v0:{timestamp}:{raw body}``.

    Computed over the bytes as received (slack_sdk's verifier decodes them as UTF-8
    first, and raises on a body that is not).
    """
    message = b"v0:" + timestamp.encode("ascii") + b":" + body
    return "v0=" + hmac.new(secret.encode("utf-8"), message, hashlib.sha256).hexdigest()


class RequestSignature:
    """Checks Slack's request signature; fails closed without a signing secret."""

    def __init__(self, signing_secret: str, now: Callable[[], float] = time.time) -> None:
        self._secret = signing_secret if signing_secret.strip() else ""
        self._now = now

    def valid(self, body: bytes, timestamp: str | None, signature: str | None) -> bool:
        """The signature matches the raw bytes and the timestamp is within 5 minutes."""
        if not self._secret or not timestamp or not signature:
            return False
        if not timestamp.isascii() or not timestamp.isdigit():
            return False
        if abs(self._now() - int(timestamp)) > SIGNATURE_WINDOW_SECONDS:
            return False
        expected = request_signature(self._secret, timestamp, body)
        return hmac.compare_digest(expected.encode("ascii"), signature.encode("utf-8"))


@dataclass(frozen=True, slots=True)
class Malformed:
    """A verified body chatkeeper cannot hand to Bolt, and why (``body``: what did parse)."""

    reason: str
    body: Mapping[str, Any] = field(default_factory=dict)


def _form_payload(text: str) -> str:
    return dict(parse_qsl(text, keep_blank_values=True)).get("payload", "")


def parse_signed(
    raw: bytes, query: str, headers: dict[str, str | Sequence[str]]
) -> AsyncBoltRequest | Malformed:
    """Bolt's request for a verified body, or :class:`Malformed` (never raises)."""
    try:
        text = raw.decode("utf-8")
    except UnicodeDecodeError:
        return Malformed("not UTF-8")
    if nests_deeper_than(raw) or nests_deeper_than(_form_payload(text).encode("utf-8")):
        return Malformed(f"nested deeper than {MAX_JSON_DEPTH} levels")
    try:
        request = AsyncBoltRequest(body=text, query=query, headers=headers)
    except _PARSE_ERRORS as exc:
        return Malformed(f"not a JSON object or form ({type(exc).__name__})")
    body = request.body
    if not isinstance(body, dict):
        return Malformed("not a JSON object")
    kind = body.get("type")
    if kind == "event_callback" and not isinstance(body.get("event"), Mapping):
        return Malformed("event_callback without an event object", body)
    if not isinstance(kind, str) and "command" not in body and "ssl_check" not in body:
        return Malformed("neither an event, an interaction, a command nor an SSL check", body)
    return request
