"""Identity snapshots: who an actor is and what a conversation is called, cached.

``users.info`` gives display name, email and admin flags; ``conversations.info``
gives name and type (privacy comes from the API, never from the id prefix).
A failing lookup never blocks capture: the record keeps the bare id.
"""

from __future__ import annotations

import asyncio
from collections.abc import Callable, Coroutine, Iterable, Mapping
from dataclasses import dataclass
from typing import Any

import structlog
from aiohttp import ClientError
from slack_sdk.errors import SlackApiError, SlackClientError
from slack_sdk.web.async_client import AsyncWebClient

from archive.clock import Clock
from archive.model import Actor

log = structlog.get_logger("chatkeeper.slack.identity")
_RETRY_FAILED_SECONDS = 60.0


@dataclass(frozen=True, slots=True)
class UserInfo:
    actor: Actor
    is_admin: bool  # workspace admin, owner or primary owner


@dataclass(frozen=True, slots=True)
class ConversationInfo:
    id: str
    name: str | None
    type: str | None  # public_channel | private_channel | im | mpim
    is_member: bool = False
    is_archived: bool = False


def user_info_from(user: Mapping[str, Any]) -> UserInfo:
    """Snapshot of a Slack user object (users.info, user_change, users.json)."""
    profile = user.get("profile") if isinstance(user.get("profile"), Mapping) else {}
    assert isinstance(profile, Mapping)
    name = (
        profile.get("display_name")
        or profile.get("real_name")
        or user.get("real_name")
        or user.get("name")
    )
    email = profile.get("email")
    return UserInfo(
        actor=Actor(
            id=str(user.get("id", "")),
            name=name if isinstance(name, str) and name else None,
            email=email if isinstance(email, str) and email else None,
            is_bot=bool(user.get("is_bot")),
        ),
        is_admin=any(bool(user.get(flag)) for flag in ("is_admin", "is_owner", "is_primary_owner")),
    )


def conversation_type(channel: Mapping[str, Any]) -> str | None:
    """Slack's conversation type from the API flags (not from the id prefix)."""
    if channel.get("is_im"):
        return "im"
    if channel.get("is_mpim"):
        return "mpim"
    if "is_private" in channel:
        return "private_channel" if channel.get("is_private") else "public_channel"
    if channel.get("is_group"):
        return "private_channel"
    return None


class IdentityCache:
    """users.info / conversations.info with a TTL cache shared by all listeners."""

    def __init__(self, client: AsyncWebClient, clock: Clock, ttl_seconds: float) -> None:
        self._client = client
        self._clock = clock
        self._ttl = ttl_seconds
        self._users: dict[str, tuple[float, UserInfo | None]] = {}
        self._conversations: dict[str, tuple[float, ConversationInfo | None]] = {}
        self._inflight: dict[str, asyncio.Task[Any]] = {}

    def _fresh(self, entry: tuple[float, object]) -> bool:
        # a failed lookup (None) is retried after a minute, a good one after the TTL
        ttl = self._ttl if entry[1] is not None else min(self._ttl, _RETRY_FAILED_SECONDS)
        return self._clock.now().timestamp() - entry[0] < ttl

    async def _once(self, key: str, lookup: Callable[[], Coroutine[Any, Any, Any]]) -> Any:
        """Concurrent lookups of one id share a single API call (no thundering herd).

        The call runs as its own task: a caller that stops waiting (its ack deadline)
        does not cancel it, and the answer still fills the cache for the next event.
        """
        task = self._inflight.get(key)
        if task is None:
            task = asyncio.create_task(lookup())
            self._inflight[key] = task
            task.add_done_callback(lambda _: self._inflight.pop(key, None))
        return await asyncio.shield(task)

    async def user(self, user_id: str) -> UserInfo | None:
        cached = self._users.get(user_id)
        if cached is not None and self._fresh(cached):
            return cached[1]
        result: UserInfo | None = await self._once(
            "U:" + user_id, lambda: self._fetch_user(user_id)
        )
        return result

    async def _fetch_user(self, user_id: str) -> UserInfo | None:
        info: UserInfo | None = None
        try:
            response = await self._client.users_info(user=user_id)
            user = response.get("user")
            if isinstance(user, Mapping):
                info = user_info_from(user)
        except (TimeoutError, SlackApiError, SlackClientError, OSError, ClientError) as exc:
            log.warning("slack.users_info_failed", user=user_id, error=type(exc).__name__)
        self._users[user_id] = (self._clock.now().timestamp(), info)
        return info

    async def actors(self, user_ids: Iterable[str | None]) -> dict[str, Actor]:
        found: dict[str, Actor] = {}
        for user_id in {u for u in user_ids if u and u.startswith(("U", "W"))}:
            info = await self.user(user_id)
            if info is not None:
                found[user_id] = info.actor
        return found

    def remember_user(self, user: Mapping[str, Any]) -> None:
        """Refresh from a ``user_change`` / ``team_join`` event."""
        info = user_info_from(user)
        if info.actor.id:
            self._users[info.actor.id] = (self._clock.now().timestamp(), info)

    async def conversation(self, channel_id: str) -> ConversationInfo | None:
        if not channel_id:
            return None
        cached = self._conversations.get(channel_id)
        if cached is not None and self._fresh(cached):
            return cached[1]
        result: ConversationInfo | None = await self._once(
            "C:" + channel_id, lambda: self._fetch_conversation(channel_id)
        )
        return result

    async def _fetch_conversation(self, channel_id: str) -> ConversationInfo | None:
        info: ConversationInfo | None = None
        try:
            response = await self._client.conversations_info(channel=channel_id)
            channel = response.get("channel")
            if isinstance(channel, Mapping):
                info = ConversationInfo(
                    id=channel_id,
                    name=channel.get("name") if isinstance(channel.get("name"), str) else None,
                    type=conversation_type(channel),
                    is_member=bool(channel.get("is_member")),
                    is_archived=bool(channel.get("is_archived")),
                )
        except (TimeoutError, SlackApiError, SlackClientError, OSError, ClientError) as exc:
            log.warning(
                "slack.conversations_info_failed", channel=channel_id, error=type(exc).__name__
            )
        self._conversations[channel_id] = (self._clock.now().timestamp(), info)
        return info

    def forget_conversation(self, channel_id: str) -> None:
        """Names change (channel_rename): look the conversation up again next time."""
        self._conversations.pop(channel_id, None)
