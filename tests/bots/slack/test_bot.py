"""The Slack Bot that `chatkeeper serve` mounts: routes, downloader, Socket Mode start/stop."""

from __future__ import annotations

from dataclasses import replace

import aiohttp
from aiohttp import web

from archive.journal.sqlite import SqliteJournal
from bots.slack.files import SlackFileDownloader
from bots.slack.sandbox import SlackSender, envelope, serve_fake_slack
from bots.slack.sandbox.payloads import plain
from chatkeeper.build import build_bots
from chatkeeper.settings import CaptureSettings, Settings
from tests.bots.slack.conftest import SECRET, TEAM, sandbox_state, slack_settings


async def test_serve_mounts_slack_routes(journal: SqliteJournal) -> None:
    """With slack.enabled the server gets the events route and a Slack downloader; events are captured."""
    fake = await serve_fake_slack(sandbox_state())
    settings = Settings(slack=slack_settings(fake), capture=CaptureSettings(mode="all"))
    (plugin,) = build_bots(settings, journal)
    assert plugin.name == "slack" and isinstance(plugin.downloader(), SlackFileDownloader)
    app = web.Application()
    app.add_routes(plugin.routes())
    runner = web.AppRunner(app, access_log=None)
    await runner.setup()
    await web.TCPSite(runner, "127.0.0.1", 0).start()
    async with aiohttp.ClientSession() as session:
        sender = SlackSender(session, f"http://127.0.0.1:{runner.addresses[0][1]}", SECRET)
        delivered = await sender.event(envelope(TEAM, plain()))
        command = await sender.command(
            team=TEAM, channel="C0GENERAL", user="U0BOB0001", text="help"
        )
    assert delivered.status == 200 and command.status == 200
    assert [r.kind.value for r in journal.iter_records()] == ["message", "admin_action"]
    await runner.cleanup()
    await fake.close()


async def test_disabled_slack_adds_nothing(journal: SqliteJournal) -> None:
    """Without slack.enabled no Slack Bot is built (and no secret is required)."""
    assert build_bots(Settings(), journal) == []


async def test_socket_mode_plugin_connects_and_stops(journal: SqliteJournal) -> None:
    """In Socket Mode the plugin has no routes; start connects over the WebSocket, stop closes it."""
    fake = await serve_fake_slack(sandbox_state())
    slack = slack_settings(fake, mode="socket", signing_secret="", app_token=fake.state.app_token)
    (plugin,) = build_bots(Settings(slack=replace(slack, reconcile_interval_seconds=0)), journal)
    assert plugin.routes() == [] and plugin.start is not None and plugin.stop is not None
    await plugin.start()
    await fake.api.wait_for_socket()
    await fake.api.push("events_api", envelope(TEAM, plain()), "env-p1")
    assert await fake.api.wait_for_ack("env-p1") == {"envelope_id": "env-p1"}
    await plugin.stop()
    await fake.close()
    assert [r.kind.value for r in journal.iter_records()] == []  # opt_in: channel not captured
