"""The shipped Slack app manifest asks for exactly the events and scopes chatkeeper uses."""

from __future__ import annotations

import re
from pathlib import Path

MANIFEST = Path(__file__).resolve().parents[2] / "deploy" / "slack-app-manifest.yml"


def _list(name: str) -> list[str]:
    text = MANIFEST.read_text(encoding="utf-8")
    block = re.search(rf"^\s*{name}:\n((?:\s+- .+\n)+)", text, re.MULTILINE)
    assert block is not None, name
    return [line.strip()[2:] for line in block.group(1).splitlines()]


def test_manifest_events() -> None:
    """Every event the issue lists is subscribed (message via the four message.* names), nothing else."""
    assert _list("bot_events") == sorted(
        [
            "app_mention",
            "channel_archive",
            "channel_deleted",
            "channel_rename",
            "channel_unarchive",
            "file_deleted",
            "file_shared",
            "group_archive",
            "group_deleted",
            "group_rename",
            "group_unarchive",
            "member_joined_channel",
            "member_left_channel",
            "message.channels",
            "message.groups",
            "message.im",
            "message.mpim",
            "pin_added",
            "pin_removed",
            "reaction_added",
            "reaction_removed",
            "user_change",
        ]
    )


def test_manifest_scopes() -> None:
    """Bot scopes: history and read for each conversation type, join, files, users with email, commands."""
    scopes = _list("bot")
    assert scopes == sorted(scopes) and len(scopes) == len(set(scopes))
    for needed in (
        "channels:history",
        "groups:history",
        "im:history",
        "mpim:history",
        "files:read",
        "users:read.email",
        "commands",
        "channels:join",
    ):
        assert needed in scopes
    assert not [s for s in scopes if s.endswith(":write") and s != "chat:write"]
