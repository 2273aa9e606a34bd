"""The real Bolt app served on loopback, a fake Slack on loopback, a real SQLite journal."""

from __future__ import annotations

from collections.abc import AsyncIterator, Iterator
from dataclasses import dataclass, replace
from pathlib import Path

import aiohttp
import pytest
from aiohttp import web

from archive.journal.sqlite import SqliteJournal
from bots.slack.bot import SlackBot
from bots.slack.sandbox import FakeSlackState, RunningFakeSlack, SlackSender, serve_fake_slack
from bots.slack.settings import SlackSettings

SECRET = "8f742231b10e8888abcd99yyyzzz85a5"
TEAM = "T0SANDBOX"
PUBLIC = "C0GENERAL"
PRIVATE = "C0SECRET9"  # a private channel with a C prefix: privacy comes from the API


@dataclass
class Harness:
    fake: RunningFakeSlack
    bot: SlackBot
    sender: SlackSender
    journal: SqliteJournal
    url: str

    @property
    def state(self) -> FakeSlackState:
        return self.fake.state


@pytest.fixture
def journal(tmp_path: Path) -> Iterator[SqliteJournal]:
    with SqliteJournal(tmp_path / "journal.db") as j:
        yield j


def sandbox_state() -> FakeSlackState:
    state = FakeSlackState(team=TEAM)
    state.add_user("U0ADMIN01", "Ada", admin=True)
    state.add_user("U0ALICE01", "Alice")
    state.add_user("U0BOB0001", "Bob")
    state.add_channel(PUBLIC, "general")
    state.add_channel(PRIVATE, "deal-room", private=True)
    return state


def slack_settings(fake: RunningFakeSlack, **changes: object) -> SlackSettings:
    base = SlackSettings(
        enabled=True,
        signing_secret=SECRET,
        bot_token=fake.state.token,
        api_base_url=fake.api_base_url,
        file_hosts=(fake.file_host,),
    )
    return replace(base, **changes)  # type: ignore[arg-type]


async def start_harness(
    journal: SqliteJournal, capture_mode: str = "all", **changes: object
) -> AsyncIterator[Harness]:
    fake = await serve_fake_slack(sandbox_state())
    bot = SlackBot(
        slack_settings(fake, **changes),
        journal,
        capture_mode=capture_mode,
        admin_user_ids=("U0CONFIG1",),
    )
    runner = web.AppRunner(bot.web_app(), access_log=None)
    await runner.setup()
    site = web.TCPSite(runner, "127.0.0.1", 0)
    await site.start()
    url = f"http://127.0.0.1:{runner.addresses[0][1]}"
    async with aiohttp.ClientSession() as session:
        yield Harness(fake, bot, SlackSender(session, url, SECRET), journal, url)
    await runner.cleanup()
    await fake.close()


@pytest.fixture
async def harness(journal: SqliteJournal) -> AsyncIterator[Harness]:
    async for h in start_harness(journal):
        yield h


@pytest.fixture
async def opt_in(journal: SqliteJournal) -> AsyncIterator[Harness]:
    async for h in start_harness(journal, capture_mode="opt_in"):
        yield h
