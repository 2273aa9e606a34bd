"""The Slack part of ``chatkeeper demo``: a fake Slack, the real Bolt app, a short conversation.

Both servers listen on ephemeral loopback ports. An admin turns capture on
with the slash command, then people talk: a message, an edit, a thread
reply, a reaction, a shared file, a delete. Every delivery is signed and
answered only after the journal commit. With a store and fetch policy the
attachment worker also stores the file as a locked blob.
"""

from __future__ import annotations

import secrets
from collections import Counter
from dataclasses import dataclass, field
from typing import Any

import aiohttp
from aiohttp import web

from archive.attachments import AttachmentFetcher, FetchPolicy
from archive.bundle import Layout
from archive.clock import SystemClock
from archive.journal import Journal
from archive.store import ArchiveStore
from bots.slack.bot import SlackBot, web_client
from bots.slack.files import SlackFileDownloader
from bots.slack.sandbox.fake_api import FakeFile, FakeSlackState, serve_fake_slack
from bots.slack.sandbox.sender import SlackSender, envelope
from bots.slack.settings import SlackSettings

CHANNEL = "C0DEMODESK"
TEAM = "T0DEMO0001"


@dataclass
class SlackDemoSummary:
    deliveries: int = 0
    acked: int = 0  # HTTP 200 answers
    kinds: Counter[str] = field(default_factory=Counter)
    attachments: list[str] = field(default_factory=list)  # final states
    api_calls: Counter[str] = field(default_factory=Counter)

    def lines(self) -> list[str]:
        kinds = ", ".join(f"{k}={n}" for k, n in sorted(self.kinds.items()))
        return [
            f"slack: {self.acked}/{self.deliveries} deliveries acked after commit",
            f"slack: journal holds {kinds}",
            f"slack: attachments {', '.join(self.attachments) or 'none fetched'}",
        ]


def _state() -> FakeSlackState:
    state = FakeSlackState(team=TEAM)
    state.add_user("U0DEMOADM", "Morgan", admin=True, email="morgan@example.com")
    state.add_user("U0DEMOTRD", "Riley", email="riley@example.com")
    state.add_channel(CHANNEL, "trading-desk")
    state.files["F0DEMOPDF"] = FakeFile(
        "F0DEMOPDF", "term-sheet.pdf", b"%PDF-1.7 demo term sheet\n", "application/pdf"
    )
    return state


def _conversation(file_url: str) -> list[dict[str, Any]]:
    msg = {"type": "message", "channel": CHANNEL, "channel_type": "channel"}
    return [
        {**msg, "user": "U0DEMOTRD", "text": "Can we do 5m at 101.25?", "ts": "1764500000.000100"},
        {
            **msg,
            "subtype": "message_changed",
            "ts": "1764500030.000200",
            "message": {
                "user": "U0DEMOTRD",
                "text": "Can we do 5m at 101.50?",
                "ts": "1764500000.000100",
                "edited": {"user": "U0DEMOTRD", "ts": "1764500030.000000"},
            },
            "previous_message": {
                "user": "U0DEMOTRD",
                "text": "Can we do 5m at 101.25?",
                "ts": "1764500000.000100",
            },
        },
        {
            **msg,
            "user": "U0DEMOADM",
            "text": "Approved.",
            "ts": "1764500060.000300",
            "thread_ts": "1764500000.000100",
        },
        {
            "type": "reaction_added",
            "user": "U0DEMOTRD",
            "reaction": "white_check_mark",
            "item": {"type": "message", "channel": CHANNEL, "ts": "1764500060.000300"},
            "event_ts": "1764500070.000400",
        },
        {
            **msg,
            "subtype": "file_share",
            "user": "U0DEMOTRD",
            "text": "term sheet",
            "ts": "1764500090.000500",
            "files": [
                {
                    "id": "F0DEMOPDF",
                    "name": "term-sheet.pdf",
                    "mimetype": "application/pdf",
                    "url_private_download": file_url,
                }
            ],
        },
        {**msg, "user": "U0DEMOTRD", "text": "ignore that, wrong desk", "ts": "1764500100.000600"},
        {
            **msg,
            "subtype": "message_deleted",
            "ts": "1764500110.000700",
            "deleted_ts": "1764500100.000600",
            "previous_message": {
                "user": "U0DEMOTRD",
                "text": "ignore that, wrong desk",
                "ts": "1764500100.000600",
            },
        },
    ]


async def run_slack_demo(
    journal: Journal,
    *,
    capture_mode: str = "opt_in",
    store: ArchiveStore | None = None,
    layout: Layout | None = None,
    retention_days: int = 1,
    fetch_policy: FetchPolicy | None = None,
) -> SlackDemoSummary:
    """Run the demo conversation through the real Bolt app over loopback HTTP.

    With ``store`` and ``layout`` (or a full ``fetch_policy``) the attachment
    worker then stores the shared file as a locked blob.
    """
    if fetch_policy is None and layout is not None:
        fetch_policy = FetchPolicy(layout=layout, retention_days=retention_days)
    fake = await serve_fake_slack(_state())
    secret = secrets.token_hex(16)
    settings = SlackSettings(
        enabled=True,
        signing_secret=secret,
        bot_token=fake.state.token,
        api_base_url=fake.api_base_url,
        file_hosts=(fake.file_host,),
    )
    bot = SlackBot(settings, journal, capture_mode=capture_mode)
    runner = web.AppRunner(bot.web_app(), access_log=None)
    await runner.setup()
    await web.TCPSite(runner, "127.0.0.1", 0).start()
    summary = SlackDemoSummary()
    try:
        async with aiohttp.ClientSession() as session:
            sender = SlackSender(session, f"http://127.0.0.1:{runner.addresses[0][1]}", secret)
            # fixed delivery ids: running the demo again stores nothing twice
            answers = [
                await sender.command(
                    team=TEAM, channel=CHANNEL, user="U0DEMOADM", text="on", trigger_id="demo.1"
                )
            ]
            for n, event in enumerate(_conversation(fake.file_url("F0DEMOPDF"))):
                payload = envelope(TEAM, event, event_id=f"EvDEMO{n:04d}")
                answers.append(await sender.event(payload))
            summary.deliveries = len(answers)
            summary.acked = sum(1 for a in answers if a.status == 200)
        if store is not None and fetch_policy is not None:
            downloader = SlackFileDownloader(
                web_client(settings), settings.bot_token, settings.file_hosts
            )
            fetcher = AttachmentFetcher(
                journal, store, {"slack": downloader}, fetch_policy, SystemClock()
            )
            await fetcher.run_once()
    finally:
        await runner.cleanup()
        await fake.close()
    for record in journal.iter_records():
        if record.platform.value == "slack" and record.workspace == TEAM:
            summary.kinds[record.kind.value] += 1
            if record.kind.value == "attachment_stored":
                summary.attachments.extend(a.state.value for a in record.attachments)
    summary.api_calls.update(c.method for c in fake.state.calls)
    return summary
