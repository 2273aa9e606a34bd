"""What ``chatkeeper demo`` does: the main job end to end on embedded defaults.

Starts the embedded SeaweedFS (Object Lock) and the SQLite journal in the
state directory, captures a sample conversation through the capture API,
drives the real Slack bot (Bolt, over signed HTTP) and the real Telegram bot
(python-telegram-bot, webhook) through the sandbox platforms, seals everything
into signed bundles, verifies the stream, and says where to look.

The capture-API sample is the Slack sandbox's own sample events, each wrapped
in an ``event_callback`` envelope and turned into its record by the Slack
adapter's translation (``bots.slack.translate.event_record``): the records
carry the keys live capture gives the same events, and a Slack export of the
same messages imports as duplicates. Ids and times are fixed, so a second demo
run stores nothing.
"""

from __future__ import annotations

import asyncio
import json
from collections.abc import Callable
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta

from archive.capture import capture
from archive.clock import SystemClock
from archive.model import Actor, Record, Source
from archive.seal import seal
from archive.verify import verify_stream
from bots.slack.payload import Delivery, Snapshot, slack_time
from bots.slack.sandbox import payloads
from bots.slack.sandbox.demo import run_slack_demo
from bots.slack.sandbox.sender import envelope
from bots.slack.translate import event_record
from bots.telegram.sandbox.demo import run_telegram_demo
from chatkeeper import build
from chatkeeper.settings import Settings

CHANNEL = "C0GENERAL"  # the channel of the sandbox's sample events
TEAM = "T0SANDBOX"
CHANNEL_NAME = "general"
PEOPLE = {
    "U0ALICE01": Actor("U0ALICE01", "Alice", "alice@example.com"),
    "U0BOB0001": Actor("U0BOB0001", "Bob", "bob@example.com"),
}
# Ten of the sandbox events: messages, a thread, an edit, a delete, a reaction, a join, a file.
SAMPLE = (
    "plain",
    "member_joined_channel",
    "thread_reply",
    "message_changed",
    "reaction_added",
    "file_share",
    "me_message",
    "channel_topic",
    "message_deleted",
    "thread_broadcast",
)


def sample_conversation() -> list[Record]:
    """The capture-API sample: the sandbox events above as the Slack adapter records them."""
    snapshot = Snapshot(
        actors=PEOPLE, conversation_name=CHANNEL_NAME, conversation_type="public_channel"
    )
    records = []
    for n, name in enumerate(SAMPLE):
        event = payloads.EVENTS[name]
        at = slack_time(event["event_ts"]) or datetime(2025, 11, 29, tzinfo=UTC)
        body = envelope(TEAM, event, event_id=f"Ev0DEMO{n:05d}")
        body["event_time"] = int(at.timestamp())  # fixed, so a second run is the same bytes
        raw = json.dumps(body, separators=(",", ":")).encode()
        delivery = Delivery(
            team=TEAM,
            source=Source.CAPTURE_API,  # handed to capture(), not received over HTTP
            raw=raw,
            captured_at=at + timedelta(milliseconds=180),
            event_id=body["event_id"],
            event_time=at.replace(microsecond=0),
        )
        records.append(event_record(body, delivery, snapshot))
    return records


@dataclass(frozen=True)
class DemoResult:
    verified: bool
    bucket: str
    signing_key_id: str


def run_demo(settings: Settings, echo: Callable[[str], None]) -> DemoResult:
    """Capture, drive both bots, seal and verify; ``echo`` gets each line of the story."""
    clock = SystemClock()
    policy = build.seal_policy(settings)
    signer = build.signer(settings)
    echo(f"state directory: {settings.home.resolve()}")
    echo("starting the embedded S3 (SeaweedFS, Object Lock COMPLIANCE) ...")
    with build.open_journal(settings) as journal, build.open_store(settings) as store:
        records = sample_conversation()
        seqs = asyncio.run(capture(journal, records))
        echo(
            f"captured {len(records)} events through the capture API (seq {min(seqs)}..{max(seqs)}); "
            "a second run stores nothing twice"
        )
        slack = asyncio.run(
            run_slack_demo(
                journal,
                store=store,
                layout=policy.layout,
                retention_days=settings.archive.retention_days,
            )
        )
        for line in slack.lines():
            echo(line)
        telegram = asyncio.run(
            run_telegram_demo(
                journal,
                store=store,
                layout=policy.layout,
                retention_days=settings.archive.retention_days,
            )
        )
        echo(
            f"telegram: the real bot ({telegram.mode} mode) took {telegram.updates_sent} updates "
            f"from the sandbox Bot API: {_kinds(telegram.by_kind)}; archiving turned on by an "
            f"admin: {'yes' if telegram.monitored else 'no'}"
        )
        report = seal(journal, store, signer, policy, clock)
        for row in report.bundles:
            echo(
                f"sealed bundle {row.number}: {row.record_count} records, "
                f"manifest sha256 {row.manifest_sha256}"
            )
        if not report.bundles:
            echo("nothing new to seal")
        verified = verify_stream(
            store, policy.layout, {signer.public.key_id: signer.public}, deep=True
        )
        echo(
            f"verify --deep: {'INTACT' if verified.ok else 'INTEGRITY FAILURE'} "
            f"({verified.bundles} bundles, {verified.records} records)"
        )
        for finding in verified.findings:
            echo(f"  ! bundle {finding.bundle} [{finding.check}] {finding.message}")
        return DemoResult(verified.ok, store.bucket, signer.public.key_id)


def _kinds(by_kind: dict[str, int]) -> str:
    return ", ".join(f"{count} {kind}" for kind, count in sorted(by_kind.items())) or "nothing new"
