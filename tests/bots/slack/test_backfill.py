"""Backfill and reconciliation against the fake Web API: pagination, 429s, dedupe, gaps."""

from __future__ import annotations

import asyncio
import time
from datetime import UTC, datetime
from typing import Any

import pytest

from archive.errors import BackfillError
from archive.model import Kind, Source
from bots.slack.backfill import backfill_channel, history_client
from bots.slack.completeness import reconcile_channel
from bots.slack.sandbox import envelope
from bots.slack.sandbox.payloads import plain
from tests.bots.slack.conftest import PUBLIC, TEAM, Harness

SINCE = datetime(2025, 11, 1, tzinfo=UTC)


def _message(n: int, **extra: Any) -> dict[str, Any]:
    return {
        "type": "message",
        "user": "U0ALICE01",
        "text": f"msg {n}",
        "ts": f"17644{n:05d}.000100",
        **extra,
    }


def _seed(h: Harness, parents: int, replies: int) -> None:
    history = [_message(n) for n in range(parents)]
    parent_ts = history[0]["ts"]
    if replies:
        history[0]["reply_count"] = replies
        history[0]["thread_ts"] = parent_ts
    history += [_message(90000 + n, thread_ts=parent_ts) for n in range(replies)]
    h.state.history[PUBLIC] = history


async def test_backfill_paginates_and_waits_out_429(harness: Harness) -> None:
    """History and replies are paged with cursors, a 429 is retried after Retry-After, all stored once."""
    _seed(harness, parents=250, replies=30)
    harness.state.rate_limit["conversations.history"] = 1
    client = history_client(harness.state.token, harness.fake.api_base_url)
    run = await backfill_channel(
        harness.journal,
        client,
        team=TEAM,
        channel=PUBLIC,
        oldest=SINCE,
        page_size=100,
        requests_per_minute=6000,
    )
    assert (run.fetched, run.new, run.duplicates) == (280, 280, 0)
    history_calls = harness.state.calls_to("conversations.history")
    assert len(history_calls) == 4  # one 429, then three pages of 100
    assert [c.params.get("cursor") for c in history_calls[1:]] == [None, "100", "200"]
    assert all(c.params["limit"] == "100" for c in history_calls)
    assert len(harness.state.calls_to("conversations.replies")) == 1
    records = list(harness.journal.iter_records())
    assert len(records) == 280 and {r.source for r in records} == {Source.BACKFILL_API}
    assert sum(1 for r in records if r.reply_to) == 30


async def test_backfill_is_paced(harness: Harness) -> None:
    """requests_per_minute spaces the calls out (two pages at 120/min take at least half a second)."""
    _seed(harness, parents=20, replies=0)
    client = history_client(harness.state.token, harness.fake.api_base_url)
    started = asyncio.get_running_loop().time()
    run = await backfill_channel(
        harness.journal,
        client,
        team=TEAM,
        channel=PUBLIC,
        oldest=SINCE,
        page_size=10,
        requests_per_minute=120,
    )
    assert run.pages == 2
    assert asyncio.get_running_loop().time() - started >= 0.49


async def test_backfill_dedupes_against_live_capture(harness: Harness) -> None:
    """A message already captured live keeps its live record; backfill stores only the rest."""
    _seed(harness, parents=3, replies=0)
    live = dict(plain(ts=harness.state.history[PUBLIC][1]["ts"]))
    await harness.sender.event(envelope(TEAM, live))
    client = history_client(harness.state.token, harness.fake.api_base_url)
    run = await backfill_channel(
        harness.journal, client, team=TEAM, channel=PUBLIC, oldest=SINCE, requests_per_minute=6000
    )
    assert (run.new, run.duplicates) == (2, 1)
    sources = sorted(r.source.value for r in harness.journal.iter_records())
    assert sources == ["backfill_api", "backfill_api", "events_api"]


async def test_admin_on_with_backfill(harness: Harness) -> None:
    """`/chatkeeper on --backfill=7` fetches history in the background after answering."""
    _seed(harness, parents=5, replies=0)
    reply = await harness.sender.command(
        team=TEAM, channel=PUBLIC, user="U0ADMIN01", text="on --backfill=7"
    )
    assert "last 7 days" in reply.body
    await asyncio.gather(*harness.bot.admin.tasks)
    oldest = float(harness.state.calls_to("conversations.history")[0].params["oldest"])
    assert abs(oldest - (datetime.now(UTC).timestamp() - 7 * 86400)) < 60
    # the seeded messages are from 2025, older than 7 days: nothing to store
    assert [r.kind for r in harness.journal.iter_records()] == [
        Kind.ADMIN_ACTION,
        Kind.MONITORING_CHANGED,
    ]


async def test_reconcile_reports_what_cannot_be_recovered(harness: Harness) -> None:
    """Missed messages are recovered; edits and deletions that happened while blind are reported."""
    kept, deleted, edited, missed = (_message(n) for n in range(4))
    for message in (kept, deleted, edited):
        await harness.sender.event(envelope(TEAM, dict(message, channel=PUBLIC)))
    edited_now = dict(
        edited, text="msg 2 (changed)", edited={"user": "U0ALICE01", "ts": "1764499999.000000"}
    )
    harness.state.history[PUBLIC] = [kept, edited_now, missed]
    client = history_client(harness.state.token, harness.fake.api_base_url)
    report = await reconcile_channel(
        harness.journal, client, team=TEAM, channel=PUBLIC, since=SINCE, requests_per_minute=6000
    )
    assert report.checked == 3
    assert report.recovered == [missed["ts"]]
    assert report.unrecoverable_edits == [edited["ts"]]
    assert report.unrecoverable_deletes == [deleted["ts"]]
    recovered = [r for r in harness.journal.iter_records() if r.message_id == missed["ts"]]
    assert len(recovered) == 1 and recovered[0].details["recovered"] is True


async def test_reconcile_job_covers_monitored_channels_since_turned_on(opt_in: Harness) -> None:
    """The job reconciles each captured conversation from when capture was turned on, not before."""
    now = time.time()
    before = {
        "type": "message",
        "user": "U0ALICE01",
        "text": "before on",
        "ts": f"{now - 3600:.6f}",
    }
    await opt_in.sender.command(team=TEAM, channel=PUBLIC, user="U0ADMIN01", text="on")
    live = {"type": "message", "user": "U0ALICE01", "text": "live", "ts": f"{now + 1:.6f}"}
    missed = {"type": "message", "user": "U0BOB0001", "text": "missed", "ts": f"{now + 2:.6f}"}
    await opt_in.sender.event(envelope(TEAM, dict(live, channel=PUBLIC)))
    opt_in.state.history[PUBLIC] = [before, live, missed]
    (report,) = await opt_in.bot.reconcile()
    assert report.channel == PUBLIC and report.checked == 2
    assert report.recovered == [missed["ts"]]
    assert report.unrecoverable_edits == report.unrecoverable_deletes == []


async def test_reconcile_job_runs_on_one_replica_at_a_time(opt_in: Harness) -> None:
    """Two replicas' jobs share a journal lease: the second pass is skipped while the first holds it."""
    await opt_in.sender.command(team=TEAM, channel=PUBLIC, user="U0ADMIN01", text="on")
    missed = {
        "type": "message",
        "user": "U0BOB0001",
        "text": "missed",
        "ts": f"{time.time() + 1:.6f}",
    }
    opt_in.state.history[PUBLIC] = [missed]
    first, second = opt_in.bot.reconcile_job(), opt_in.bot.reconcile_job()
    reports = await first.run_once()
    assert reports is not None and [r.recovered for r in reports] == [[missed["ts"]]]
    assert await second.run_once() is None
    assert len(opt_in.state.calls_to("conversations.history")) == 1


async def test_reconcile_follows_threads_started_before_the_window(harness: Harness) -> None:
    """A reply captured live in an old thread is not reported deleted; a missed one there is recovered."""
    old_parent = _message(1, reply_count=2)
    old_parent["thread_ts"] = old_parent["ts"]
    since = datetime.fromtimestamp(float(old_parent["ts"]) + 100, tz=UTC)
    live_reply = _message(500, thread_ts=old_parent["ts"])
    missed_reply = _message(600, thread_ts=old_parent["ts"])
    await harness.sender.event(envelope(TEAM, dict(live_reply, channel=PUBLIC)))
    harness.state.history[PUBLIC] = [old_parent, live_reply, missed_reply]
    client = history_client(harness.state.token, harness.fake.api_base_url)
    report = await reconcile_channel(
        harness.journal, client, team=TEAM, channel=PUBLIC, since=since, requests_per_minute=6000
    )
    assert report.unrecoverable_deletes == []
    assert report.recovered == [missed_reply["ts"]]  # the parent is older than the window
    assert [c.params["ts"] for c in harness.state.calls_to("conversations.replies")] == [
        old_parent["ts"]
    ]


async def test_backfill_of_unknown_channel_is_a_clear_error(harness: Harness) -> None:
    """Slack's channel_not_found becomes a BackfillError naming the method and error."""
    client = history_client(harness.state.token, harness.fake.api_base_url)
    with pytest.raises(BackfillError, match=r"conversations\.history failed: channel_not_found"):
        await backfill_channel(
            harness.journal, client, team=TEAM, channel="C0NOPE000", oldest=SINCE
        )
    assert list(harness.journal.iter_records()) == []
