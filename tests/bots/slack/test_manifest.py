"""The shipped Slack app manifest subscribes to every event the bot handles, with the scopes they need."""

from __future__ import annotations

from pathlib import Path
from typing import Any

import yaml

from archive.journal.sqlite import SqliteJournal
from bots.slack import capture, translate
from bots.slack.sandbox.demo import run_slack_demo
from bots.slack.subscriptions import HANDLED_EVENTS, WEB_API_SCOPES, bot_events, bot_scopes

MANIFEST = Path(__file__).resolve().parents[3] / "deploy" / "slack-app-manifest.yml"
# Sent to every app whatever it subscribes to (reference/slack.md §1.5), so not in the manifest.
UNSUBSCRIBABLE = {"app_rate_limited"}


def _manifest() -> dict[str, Any]:
    loaded = yaml.safe_load(MANIFEST.read_text(encoding="utf-8"))
    assert isinstance(loaded, dict)
    return loaded


def test_manifest_subscribes_to_exactly_the_handled_events() -> None:
    """bot_events equals the subscriptions of the event types SlackBot registers listeners for."""
    subscribed = _manifest()["settings"]["event_subscriptions"]["bot_events"]
    assert sorted(subscribed) == bot_events()
    assert len(subscribed) == len(set(subscribed))


def test_every_event_the_code_handles_is_subscribed() -> None:
    """Each event type translate gives a kind, the alarms the recorder raises, and mentions are listened to."""
    handled = {event.type for event in HANDLED_EVENTS}
    translated = set(translate._EVENT_KINDS) | {"message"}
    alarms = set(capture.ALARMS) - UNSUBSCRIBABLE
    assert translated | alarms | {"app_mention", "user_change"} <= handled
    assert {"channel_created", "channel_left", "channel_id_changed"} <= handled


def test_manifest_scopes_are_what_events_and_calls_need() -> None:
    """Bot scopes equal those of the handled events, the Web API methods called, and the command."""
    scopes = _manifest()["oauth_config"]["scopes"]["bot"]
    assert sorted(scopes) == bot_scopes()
    assert not [s for s in scopes if s.endswith(":write") and s != "chat:write"]


async def test_every_web_api_method_called_has_its_scopes_declared(journal: SqliteJournal) -> None:
    """The demo conversation through the real bot calls only Web API methods with declared scopes."""
    summary = await run_slack_demo(journal)
    assert summary.acked == summary.deliveries
    assert set(summary.api_calls) <= set(WEB_API_SCOPES), summary.api_calls
