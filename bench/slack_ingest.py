"""Slack ingest through ``chatkeeper serve``: signed Events API deliveries over loopback HTTP.

The subject is the server production runs: ``chatkeeper.serve.serve`` (the
HTTP server of ``chatkeeper.server``, sealing on its schedule, the attachment
worker, ``/healthz`` and ``/metrics``) with the Slack bot in HTTP mode on the
built-in fake Slack Web API, a SQLite journal and the embedded S3. Many
concurrent aiohttp clients (``--connections``) POST realistic signed
``event_callback`` envelopes (about 1 KB: messages with blocks, thread
replies, edits, reactions, in 40 channels from 300 people), and the benchmark
prints events/s, p50/p99 time to the HTTP 200 (which the bot sends only
after the journal's durable commit) and the server's peak RSS.

Baselines in the same run, on the same payloads: the bare Slack bot app on
its own aiohttp server (what this benchmark measured before), and the raw
journal capture (``archive.capture.capture``) of the same events translated
beforehand, with as many writers as connections.

    .venv/bin/python bench/slack_ingest.py [--events 3000] [--connections 64] [--capture-mode opt_in|all]
"""

from __future__ import annotations

import json
import random
import sys
import time
from collections.abc import Sequence
from datetime import UTC, datetime
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent.parent))

from slack_sdk.signature import SignatureVerifier

from archive.journal import Monitored
from archive.journal.sqlite import SqliteJournal
from archive.model import Actor, Record, Source
from bench import ingest_harness as h
from bench.records import realistic_record
from bots.slack.bot import SlackBot
from bots.slack.payload import Snapshot, delivery_for
from bots.slack.sandbox import FakeSlackState, RunningFakeSlack, serve_fake_slack
from bots.slack.translate import event_record
from chatkeeper import build
from chatkeeper.settings import Settings, load_settings

SECRET = "bench-signing-secret-0123456789ab"  # noqa: S105 (a benchmark)
TEAM = "T0BENCH01"
CHANNELS = [f"C0BENCH{n:03d}" for n in range(40)]
USERS = [f"U0{n:07d}" for n in range(300)]
PATH = "/slack/events"


def envelopes(count: int) -> list[bytes]:
    """``count`` Events API bodies: mostly messages, some thread replies, edits and reactions."""
    rng = random.Random(11)
    out = []
    for n in range(count):
        envelope = json.loads(realistic_record(n, rng).raw)
        event = envelope["event"]
        if n % 10 == 3:  # a reply in the thread of an earlier message
            event["thread_ts"] = f"{float(event['ts']) - 30:.6f}"
            event["parent_user_id"] = USERS[(n + 7) % len(USERS)]
        elif n % 20 == 7:  # an edit
            previous = {k: event[k] for k in ("type", "user", "text", "ts")}
            edited = {
                **previous,
                "text": event["text"] + " (revised)",
                "edited": {"user": event["user"], "ts": event["ts"]},
            }
            event.update(
                subtype="message_changed", hidden=True, message=edited, previous_message=previous
            )
            event.pop("text")
        elif n % 25 == 11:  # a reaction to an earlier message
            envelope["event"] = {
                "type": "reaction_added",
                "user": event["user"],
                "reaction": rng.choice(["thumbsup", "eyes", "white_check_mark"]),
                "item": {
                    "type": "message",
                    "channel": event["channel"],
                    "ts": f"{float(event['ts']) - 5:.6f}",
                },
                "item_user": USERS[(n + 3) % len(USERS)],
                "event_ts": event["ts"],
            }
        out.append(json.dumps(envelope, separators=(",", ":")).encode())
    return out


def signed(bodies: Sequence[bytes]) -> list[h.Request]:
    """Headers as Slack sends them, signed now (the 5-minute window starts here)."""
    verifier = SignatureVerifier(SECRET)
    stamp = str(int(time.time()))
    return [
        (
            {
                "Content-Type": "application/json",
                "User-Agent": "Slackbot 1.0 (+https://api.slack.com/robots)",
                "X-Slack-Request-Timestamp": stamp,
                "X-Slack-Signature": verifier.generate_signature(timestamp=stamp, body=body) or "",
            },
            body,
        )
        for body in bodies
    ]


# -- the children --------------------------------------------------------------------------


def fake_state() -> FakeSlackState:
    state = FakeSlackState(team=TEAM)
    for n, user in enumerate(USERS):
        state.add_user(user, f"Trader {n}", email=f"trader{n}@example.com")
    for channel in CHANNELS:
        state.add_channel(channel, f"desk-{channel[-3:]}")
    return state


def child_settings(home: Path, fake: RunningFakeSlack | None) -> Settings:
    env = h.child_env()
    if fake is not None:
        env.update(
            CHATKEEPER_SLACK_ENABLED="true",
            CHATKEEPER_SLACK_SIGNING_SECRET=SECRET,
            CHATKEEPER_SLACK_BOT_TOKEN=fake.state.token,
            CHATKEEPER_SLACK_API_BASE_URL=fake.api_base_url,
        )
    settings = load_settings(home=home, env=env)
    if settings.capture.mode == "opt_in":  # the benchmarked channels have archiving on
        with SqliteJournal(settings.journal_path) as journal:
            for channel in CHANNELS:
                journal.set_monitoring(
                    Monitored("slack", TEAM, channel, None, True, USERS[0], datetime.now(UTC))
                )
    return settings


async def child_serve(home: Path) -> None:
    fake = await serve_fake_slack(fake_state())
    settings = child_settings(home, fake)
    await h.serve_child(settings)
    await fake.close()
    h.child_report(settings)


async def child_bot(home: Path) -> None:
    """The bare bot app, as this benchmark ran it before: no serve around it."""
    fake = await serve_fake_slack(fake_state())
    settings = child_settings(home, fake)
    with build.open_journal(settings) as journal:
        (bot,) = build.build_bots(settings, journal)
        assert isinstance(bot, SlackBot)
        await h.app_child(bot.web_app(), settings.journal_path)
    await fake.close()
    h.child_report(settings)


def translated(bodies: Sequence[bytes]) -> list[Record]:
    """The records the bot would write for ``bodies`` (names as the fake Slack answers them)."""
    now = datetime.now(UTC)
    out = []
    for body in bodies:
        envelope = json.loads(body)
        user = envelope["event"]["user"]
        n = USERS.index(user)
        snapshot = Snapshot(
            actors={user: Actor(user, f"Trader {n}", f"trader{n}@example.com")},
            conversation_name="desk",
            conversation_type="public_channel",
        )
        out.append(
            event_record(envelope, delivery_for(envelope, body, Source.EVENTS_API, now), snapshot)
        )
    return out


if __name__ == "__main__":
    h.Bench(
        __file__,
        __doc__ or "",
        serve=child_serve,
        bot=child_bot,
        journal_settings=lambda home: child_settings(home, None),
        translate=translated,
        payloads=envelopes,
        sign=signed,
        path=PATH,
        labels=("chatkeeper serve (HTTP)", "baseline: bare bot app (HTTP)"),
        unit="events",
        count=3000,
        connections=64,
        capture_mode="opt_in",
    ).run()
