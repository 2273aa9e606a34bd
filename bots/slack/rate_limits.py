"""Slack's 429 answers to the bot's Web API calls, counted for the metrics.

The bot's client retries nothing (callers on the ack path have a deadline), so
a rate-limited call fails at once; this handler only tells the observer that
Slack rate-limited us, then declines the retry.
"""

from __future__ import annotations

from slack_sdk.http_retry.async_handler import AsyncRetryHandler
from slack_sdk.http_retry.request import HttpRequest
from slack_sdk.http_retry.response import HttpResponse
from slack_sdk.http_retry.state import RetryState

from archive.observe import observer


class RateLimitCounter(AsyncRetryHandler):
    """Counts 429 answers (``chatkeeper_rate_limited_total{reason="http_429"}``); never retries."""

    async def can_retry_async(
        self,
        *,
        state: RetryState,
        request: HttpRequest,
        response: HttpResponse | None = None,
        error: Exception | None = None,
    ) -> bool:
        if response is not None and response.status_code == 429:
            observer().rate_limited("slack", "http_429")
        return False
