"""Start-up checks of the Slack credentials, with slack_sdk errors translated here.

``chatkeeper serve`` calls ``auth.test`` before anything else runs, so a revoked
or wrong bot token stops start-up with one ConfigError instead of surfacing on
the first event. In Socket Mode the WebSocket URL is fetched here too
(``apps.connections.open``): slack_sdk's own connect loop retries a rejected app
token forever. Other failures (network, DNS, Slack errors) are PlatformErrors
naming the call. Neither ever carries a token.
"""

from __future__ import annotations

from collections.abc import Awaitable, Callable
from typing import Any

from aiohttp import ClientError
from slack_sdk.errors import SlackApiError, SlackClientError
from slack_sdk.web.async_client import AsyncWebClient
from slack_sdk.web.async_slack_response import AsyncSlackResponse

from archive.errors import ChatkeeperError, ConfigError, PlatformError

# Web API errors that mean the credential itself is refused.
REJECTED = frozenset(
    {
        "invalid_auth",
        "not_authed",
        "account_inactive",
        "token_revoked",
        "token_expired",
        "not_allowed_token_type",
        "missing_scope",
    }
)


async def translated(
    method: str, setting: str, call: Callable[[], Awaitable[AsyncSlackResponse]]
) -> AsyncSlackResponse:
    """Run one Web API call made at start-up; its failure becomes one chatkeeper error."""
    try:
        return await call()
    except SlackApiError as exc:
        error = str(exc.response.get("error", "unknown_error"))
        raise _api_error(method, setting, error) from exc
    except (SlackClientError, ClientError, OSError, TimeoutError) as exc:
        raise PlatformError(
            f"Slack Web API {method} failed at start-up: cannot reach Slack "
            f"({type(exc).__name__}{_detail(exc)})"
        ) from exc


def _api_error(method: str, setting: str, error: str) -> ChatkeeperError:
    if error in REJECTED:
        return ConfigError(f"{setting} was rejected by Slack ({method}: {error})")
    return PlatformError(f"Slack Web API {method} failed at start-up: {error}")


def _detail(exc: BaseException) -> str:
    text = str(exc)
    return f": {text}" if text and "xox" not in text and "xapp" not in text else ""


async def check_bot_token(client: AsyncWebClient) -> dict[str, Any]:
    """``auth.test`` with the bot token; returns its answer (team id, bot user)."""
    response = await translated("auth.test", "slack.bot_token", client.auth_test)
    return dict(response.data) if isinstance(response.data, dict) else {}


async def socket_url(client: AsyncWebClient, app_token: str) -> str:
    """A Socket Mode WebSocket URL from ``apps.connections.open`` with the app token."""
    response = await translated(
        "apps.connections.open",
        "slack.app_token",
        lambda: client.apps_connections_open(app_token=app_token),
    )
    return str(response["url"])
