"""Visibility: privacy mode on and not an admin is detected, announced and reported."""

from __future__ import annotations

import json
from datetime import UTC, datetime
from pathlib import Path

from click.testing import CliRunner

from archive.journal import Monitored
from archive.journal.sqlite import SqliteJournal
from bots.telegram.polling import PollingLoop
from bots.telegram.sandbox import payloads as p
from bots.telegram.sandbox.fake_api import FakeBotApi
from bots.telegram.visibility import visibility_warnings
from chatkeeper.cli import cli
from tests.bots.telegram.conftest import BOT_ID, RuntimeFactory

GROUP = p.supergroup()
DANA = p.user(601, "Dana")


def _bot(fake: FakeBotApi) -> dict[str, object]:
    return {"id": fake.bot_id, "is_bot": True, "first_name": "chatkeeper"}


async def test_added_as_member_with_privacy_on_warns(
    tmp_path: Path, fake: FakeBotApi, make_runtime: RuntimeFactory
) -> None:
    """Added as a plain member with privacy on: one warning in the chat and in status."""
    loop = PollingLoop(await make_runtime(home=tmp_path))
    fake.set_member(GROUP["id"], _bot(fake), "member")
    await fake.push("my_chat_member", p.member_update(GROUP, DANA, _bot(fake), "left", "member"))
    await loop.poll_once()
    assert [m["chat_id"] for m in fake.state.sent] == [GROUP["id"]]
    assert "privacy mode is on" in fake.state.sent[0]["text"]
    (line,) = visibility_warnings(tmp_path)
    assert str(GROUP["id"]) in line and "Deals desk" in line
    # promoted to administrator: full visibility, the warning clears, no new message
    fake.set_member(GROUP["id"], _bot(fake), "administrator")
    update = p.member_update(GROUP, DANA, _bot(fake), "member", "administrator")
    await fake.push("my_chat_member", update)
    await loop.poll_once()
    assert visibility_warnings(tmp_path) == []
    assert len(fake.state.sent) == 1
    assert fake.state.calls("getMe")  # privacy read from getMe


async def test_privacy_off_member_sees_all(
    tmp_path: Path, fake: FakeBotApi, make_runtime: RuntimeFactory
) -> None:
    """With privacy mode disabled a plain member sees everything: no warning."""
    fake.can_read_all_group_messages = True
    loop = PollingLoop(await make_runtime(home=tmp_path))
    fake.set_member(GROUP["id"], _bot(fake), "member")
    await fake.push("my_chat_member", p.member_update(GROUP, DANA, _bot(fake), "left", "member"))
    await loop.poll_once()
    assert fake.state.sent == []
    assert visibility_warnings(tmp_path) == []


async def test_monitored_groups_checked_at_start(
    tmp_path: Path, fake: FakeBotApi, journal: SqliteJournal, make_runtime: RuntimeFactory
) -> None:
    """At start every monitored group is checked; a limited one is announced once."""
    entry = Monitored(
        "telegram", BOT_ID, str(GROUP["id"]), "Deals desk", True, "601", datetime.now(UTC)
    )
    journal.set_monitoring(entry)
    await make_runtime(home=tmp_path)
    await make_runtime(home=tmp_path)  # a restart does not repeat the warning
    assert len(visibility_warnings(tmp_path)) == 1
    assert [m["chat_id"] for m in fake.state.sent] == [GROUP["id"]]


async def test_status_shows_the_warning(
    tmp_path: Path, fake: FakeBotApi, journal: SqliteJournal, make_runtime: RuntimeFactory
) -> None:
    """`chatkeeper status` prints the limited group as a warning, and lists it in --json."""
    home = tmp_path / "home"
    fake.set_member(GROUP["id"], _bot(fake), "member")
    loop = PollingLoop(await make_runtime(home=home))
    await fake.push("my_chat_member", p.member_update(GROUP, DANA, _bot(fake), "left", "member"))
    await loop.poll_once()
    runner = CliRunner()
    result = runner.invoke(cli, ["status"], env={"CHATKEEPER_HOME": str(home)})
    assert result.exit_code == 0, result.output
    assert f"warning:       telegram chat {GROUP['id']}" in result.output
    as_json = runner.invoke(cli, ["status", "--json"], env={"CHATKEEPER_HOME": str(home)})
    assert len(json.loads(as_json.output)["warnings"]) == 1
