"""``run_telegram_demo``: the real bot captures a group conversation from the sandbox.

The fake Bot API plays Telegram: an administrator turns archiving on (unless
an earlier run did), two traders talk, one edits a message, one posts a photo, one reacts. The bot runs
on python-telegram-bot exactly as in production (webhook with a secret, or the
own polling loop) against a journal the caller owns. With a store, the photo is
downloaded into a locked blob by the shared attachment worker.
"""

from __future__ import annotations

import socket
from collections import Counter
from collections.abc import Callable
from dataclasses import dataclass, field
from typing import Any

from aiohttp import web

from archive.attachments import AttachmentFetcher, FetchPolicy
from archive.bundle import Layout
from archive.clock import Clock, SystemClock
from archive.journal import Journal
from archive.store import ArchiveStore
from bots.telegram.application import TelegramRuntime
from bots.telegram.polling import PollingLoop
from bots.telegram.sandbox import payloads as p
from bots.telegram.sandbox.fake_api import FakeBotApi
from bots.telegram.settings import TelegramSettings
from bots.telegram.webhook import webhook_app

DEMO_TOKEN = "7000000001:sandbox-demo-token-not-a-real-one"  # noqa: S105 - sandbox only
DEMO_SECRET = "sandbox-webhook-secret"  # noqa: S105 - sandbox only
GROUP = p.supergroup(-1001700000001, "Rates desk (demo)")
ADMIN = p.user(90001, "Dana", "dana_admin")
TRADER = p.user(90002, "Sam", "sam_trades")
PHOTO = b"\x89PNG\r\n\x1a\n" + b"demo chart " * 400


@dataclass
class TelegramDemoSummary:
    mode: str
    updates_sent: int
    records: int
    by_kind: dict[str, int]
    monitored: bool
    replies: list[str]
    attachments: dict[str, int] = field(default_factory=dict)


async def _conversation(fake: FakeBotApi, *, turn_on: bool) -> int:
    """Push the scenario; returns how many updates the fake queued.

    ``turn_on``: the administrator sends ``/archive_on`` first. Once archiving is on
    (a second demo run) the command is left out, its update id used up: sent into an
    archived chat it would be a new message, and a second run must store nothing.
    """
    sent = 0
    fake.set_member(GROUP["id"], ADMIN, "creator")
    fake.set_member(
        GROUP["id"],
        {"id": fake.bot_id, "is_bot": True, "first_name": "chatkeeper"},
        "administrator",
    )
    script: list[tuple[str, dict[str, Any]]] = []
    if turn_on:
        script.append(("message", p.message(GROUP, ADMIN, 1001, "/archive_on@chatkeeper_bot")))
    else:  # its update id stays taken, so the later updates keep theirs (and their keys)
        fake.skip_updates(1)
    script.append(
        (
            "message",
            p.message(GROUP, TRADER, 1002, "Can you show 5y at 3.12?", date=p.BASE_DATE + 10),
        )
    )
    original = p.message(GROUP, ADMIN, 1003, "3.14 for 25m", date=p.BASE_DATE + 20)
    photo = fake.add_file(PHOTO, name="curve.png")
    script += [
        ("message", original),
        ("edited_message", p.edited(original, "3.13 for 25m", edit_date=p.BASE_DATE + 40)),
        (
            "message",
            p.message(
                GROUP,
                TRADER,
                1004,
                None,
                date=p.BASE_DATE + 60,
                photo=p.photo_sizes(photo),
                caption="today's curve",
                reply_to_message=original,
            ),
        ),
        ("message_reaction", p.reaction(GROUP, ADMIN, 1004, new=("👍",), date=p.BASE_DATE + 70)),
    ]
    for kind, body in script:
        sent += 1 if await fake.push(kind, body) else 0
    return sent


async def _serve_webhook(
    runtime_for: Callable[[str], TelegramRuntime],
) -> tuple[web.AppRunner, TelegramRuntime]:
    sock = socket.socket(socket.AF_INET, socket.SOCK_STREAM)
    sock.bind(("127.0.0.1", 0))
    url = f"http://127.0.0.1:{sock.getsockname()[1]}/telegram/webhook"
    runtime = runtime_for(url)
    runner = web.AppRunner(webhook_app(runtime.capture, DEMO_SECRET, "/telegram/webhook"))
    await runner.setup()
    await web.SockSite(runner, sock).start()
    return runner, runtime


async def run_telegram_demo(
    journal: Journal,
    *,
    mode: str = "webhook",
    store: ArchiveStore | None = None,
    layout: Layout | None = None,
    retention_days: int = 1,
    clock: Clock | None = None,
) -> TelegramDemoSummary:
    """Capture the demo conversation into ``journal``; returns what happened."""
    clock = clock or SystemClock()
    before = sum(1 for _ in journal.iter_records())
    async with FakeBotApi(DEMO_TOKEN) as fake:
        base = TelegramSettings(
            token=DEMO_TOKEN,
            base_url=fake.base_url,
            base_file_url=fake.base_file_url,
            poll_timeout_seconds=0,
        )

        def runtime_for(url: str = "") -> TelegramRuntime:
            settings = base
            if url:
                settings = TelegramSettings(
                    **{
                        **base.__dict__,
                        "mode": "webhook",
                        "webhook_url": url,
                        "webhook_secret": DEMO_SECRET,
                    }
                )
            return TelegramRuntime(settings, journal, capture_mode="opt_in", clock=clock)

        def monitored() -> bool:
            return journal.is_monitored("telegram", base.bot_id, str(GROUP["id"]))

        runner: web.AppRunner | None = None
        if mode == "webhook":
            runner, runtime = await _serve_webhook(runtime_for)
        else:
            runtime = runtime_for()
        await runtime.start()
        try:
            # The bot asks for every update type on start; the scenario comes after.
            loop = PollingLoop(runtime) if mode != "webhook" else None
            if loop is not None:
                await loop.poll_once()
            sent = await _conversation(fake, turn_on=not monitored())
            if loop is not None:
                while await loop.poll_once():
                    pass
                await loop.confirm()
            await fake.wait_drained()
            attachments: Counter[str] = Counter()
            if store is not None:
                fetcher = AttachmentFetcher(
                    journal,
                    store,
                    {"telegram": runtime.downloader()},
                    FetchPolicy(
                        layout=layout or Layout(stream="main"), retention_days=retention_days
                    ),
                    clock,
                )
                await fetcher.run_once()
        finally:
            await runtime.stop()
            if runner is not None:
                await runner.cleanup()
        records = list(journal.iter_records())[before:]
        for record in records:
            for attachment in (
                record.attachments if record.kind.value == "attachment_stored" else ()
            ):
                attachments[attachment.state.value] += 1
        return TelegramDemoSummary(
            mode=mode,
            updates_sent=sent,
            records=len(records),
            by_kind=dict(Counter(r.kind.value for r in records)),
            monitored=monitored(),
            replies=[str(m.get("text", "")) for m in fake.state.sent],
            attachments=dict(attachments),
        )
