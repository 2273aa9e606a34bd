"""The Slack events chatkeeper listens to, and the bot scopes it needs (no I/O).

Slack delivers an event only if the app subscribes to it and holds a scope that
covers it, so ``deploy/slack-app-manifest.yml`` must list exactly what is
here: :class:`~bots.slack.bot.SlackBot` registers one Bolt listener per
:data:`HANDLED_EVENTS` entry (and a catch-all that keeps any other type as
``other``), and tests/bots/slack/test_manifest.py compares the manifest with this
module. Scopes are from each event's and method's page on docs.slack.dev
(reference/slack.md §1.3, §5).
"""

from __future__ import annotations

from dataclasses import dataclass


@dataclass(frozen=True, slots=True)
class HandledEvent:
    """One inner event type: its manifest subscription names and the scopes behind them."""

    type: str
    subscriptions: tuple[str, ...]
    scopes: tuple[str, ...]  # all of these are needed (``message``: one per conversation type)


def _read(scope: str, *types: str) -> tuple[HandledEvent, ...]:
    return tuple(HandledEvent(t, (t,), (scope,)) for t in types)


HANDLED_EVENTS: tuple[HandledEvent, ...] = (
    HandledEvent(
        "message",
        ("message.channels", "message.groups", "message.im", "message.mpim"),
        ("channels:history", "groups:history", "im:history", "mpim:history"),
    ),
    HandledEvent("app_mention", ("app_mention",), ("app_mentions:read",)),
    HandledEvent("user_change", ("user_change",), ("users:read",)),
    # member events need channels:read or groups:read; the app holds both
    HandledEvent("member_joined_channel", ("member_joined_channel",), ("channels:read",)),
    HandledEvent("member_left_channel", ("member_left_channel",), ("channels:read",)),
    *_read(
        "channels:read",
        "channel_archive",
        "channel_created",
        "channel_deleted",
        "channel_id_changed",
        "channel_left",
        "channel_rename",
        "channel_unarchive",
    ),
    *_read(
        "groups:read",
        "group_archive",
        "group_deleted",
        "group_left",
        "group_rename",
        "group_unarchive",
    ),
    *_read("pins:read", "pin_added", "pin_removed"),
    *_read("reactions:read", "reaction_added", "reaction_removed"),
    *_read("files:read", "file_shared", "file_deleted"),
    # operational alarms: no scope, but Slack sends them only to subscribers
    HandledEvent("tokens_revoked", ("tokens_revoked",), ()),
    HandledEvent("app_uninstalled", ("app_uninstalled",), ()),
)

# Web API methods the bot calls, and the bot scopes each needs for every conversation type.
WEB_API_SCOPES: dict[str, tuple[str, ...]] = {
    "users.info": ("users:read", "users:read.email"),
    "conversations.info": ("channels:read", "groups:read", "im:read", "mpim:read"),
    "conversations.join": ("channels:join",),
    "conversations.history": ("channels:history", "groups:history", "im:history", "mpim:history"),
    "conversations.replies": ("channels:history", "groups:history", "im:history", "mpim:history"),
    "chat.postEphemeral": ("chat:write",),
    "files.info": ("files:read",),  # also what downloading url_private_download needs
}
COMMAND_SCOPES = ("commands",)  # the /chatkeeper slash command


def bot_events() -> list[str]:
    """The manifest's ``settings.event_subscriptions.bot_events``, sorted."""
    return sorted({name for event in HANDLED_EVENTS for name in event.subscriptions})


def bot_scopes() -> list[str]:
    """The manifest's ``oauth_config.scopes.bot``, sorted."""
    scopes = {s for event in HANDLED_EVENTS for s in event.scopes}
    scopes.update(s for method in WEB_API_SCOPES.values() for s in method)
    scopes.update(COMMAND_SCOPES)
    return sorted(scopes)
