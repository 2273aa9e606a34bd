"""Telegram webhook ingest through ``chatkeeper serve``: updates/s and p99 time-to-journal.

The subject is the server production runs: ``chatkeeper.serve.serve`` with
the Telegram bot in webhook mode on the built-in fake Bot API (``setWebhook``
goes to the fake), a SQLite journal and the embedded S3, sealing on its
schedule. ``--connections`` concurrent aiohttp clients, like Telegram's
``max_connections``, POST realistic updates (messages of 4 to 30 words from
40 people, some replies and edits) with the secret header to the webhook
endpoint over loopback. The endpoint answers 200 only after the update is
durable, so the request latency is the time-to-journal.

Baselines in the same run, on the same updates: the bare webhook app of the
bot on its own aiohttp server (what this benchmark measured before), and the
raw journal capture (``archive.capture.capture``) of the same updates
translated beforehand, with as many writers as connections.

    .venv/bin/python bench/telegram_ingest.py [--updates 5000] [--connections 40] [--capture-mode all|opt_in]
"""

from __future__ import annotations

import json
import random
import sys
from collections.abc import Sequence
from datetime import UTC, datetime
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent.parent))

from archive.journal import Monitored
from archive.journal.sqlite import SqliteJournal
from archive.model import Record, Source
from bench import ingest_harness as h
from bots.telegram.bot import TelegramBot
from bots.telegram.sandbox import payloads as p
from bots.telegram.sandbox.fake_api import FakeBotApi
from bots.telegram.translate import Delivery, translate_update
from bots.telegram.webhook import SECRET_HEADER, webhook_app
from chatkeeper import build
from chatkeeper.settings import Settings, load_settings

GROUP_ID = -1001555000111
TOKEN = "7005550100:bench-token-not-real"  # noqa: S105 - sandbox only
SECRET = "bench-secret"  # noqa: S105 - sandbox only
PATH = "/telegram/webhook"
WORDS = (
    "bid offer fill size curve spread tenor desk book risk limit swap basis repo cash "
    "confirm booked tomorrow today call pricing hedge term sheet signed settlement margin"
).split()


def make_updates(count: int, first_id: int = 1) -> list[bytes]:
    """``count`` webhook bodies: messages in one supergroup, every 7th a reply, every 20th an edit."""
    rng = random.Random(first_id)
    group = p.supergroup(GROUP_ID, "Rates desk")
    out = []
    for n in range(count):
        sender = p.user(1000 + n % 40, f"Trader {n % 40}", f"trader{n % 40}")
        text = " ".join(rng.choice(WORDS) for _ in range(rng.randint(4, 30)))
        message = p.message(group, sender, first_id + n, text, date=p.BASE_DATE + n)
        if n % 7 == 0:
            message["reply_to_message"] = p.message(group, sender, first_id + n - 1, "earlier")
        kind = "message"
        if n % 20 == 13:
            kind = "edited_message"
            message["edit_date"] = message["date"] + 30
        update = {"update_id": 500_000_000 + first_id + n, kind: message}
        out.append(json.dumps(update, ensure_ascii=False).encode())
    return out


def with_secret(bodies: Sequence[bytes]) -> list[h.Request]:
    headers = {SECRET_HEADER: SECRET, "Content-Type": "application/json"}
    return [(headers, body) for body in bodies]


# -- the children --------------------------------------------------------------------------


def child_settings(home: Path, fake: FakeBotApi | None) -> Settings:
    env = h.child_env()
    env.update(
        CHATKEEPER_TELEGRAM_TOKEN=TOKEN,
        CHATKEEPER_TELEGRAM_MODE="webhook",
        CHATKEEPER_TELEGRAM_WEBHOOK_URL=f"https://chatkeeper.example.com{PATH}",
        CHATKEEPER_TELEGRAM_WEBHOOK_SECRET=SECRET,
    )
    if fake is not None:
        env.update(
            CHATKEEPER_TELEGRAM_BASE_URL=fake.base_url,
            CHATKEEPER_TELEGRAM_BASE_FILE_URL=fake.base_file_url,
        )
    settings = load_settings(home=home, env=env)
    if settings.capture.mode == "opt_in":  # the benchmarked group has archiving turned on
        with SqliteJournal(settings.journal_path) as journal:
            journal.set_monitoring(
                Monitored(
                    "telegram",
                    TOKEN.split(":")[0],
                    str(GROUP_ID),
                    "Rates desk",
                    True,
                    "1000",
                    datetime.now(UTC),
                )
            )
    return settings


async def child_serve(home: Path) -> None:
    async with FakeBotApi(TOKEN) as fake:
        settings = child_settings(home, fake)
        await h.serve_child(settings)
    h.child_report(settings)


async def child_bot(home: Path) -> None:
    """The bare webhook app, as this benchmark ran it before: no serve around it."""
    async with FakeBotApi(TOKEN) as fake:
        settings = child_settings(home, fake)
        with build.open_journal(settings) as journal:
            (bot,) = build.build_bots(settings, journal)
            assert isinstance(bot, TelegramBot)
            await bot.start()
            try:
                await h.app_child(
                    webhook_app(bot.runtime.capture, SECRET, PATH), settings.journal_path
                )
            finally:
                await bot.stop()
    h.child_report(settings)


def translated(bodies: Sequence[bytes]) -> list[Record]:
    delivery = Delivery(TOKEN.split(":")[0], Source.WEBHOOK, datetime.now(UTC))
    return [r for body in bodies for r in translate_update(body, json.loads(body), delivery)]


if __name__ == "__main__":
    h.Bench(
        __file__,
        __doc__ or "",
        serve=child_serve,
        bot=child_bot,
        journal_settings=lambda home: child_settings(home, None),
        translate=translated,
        payloads=make_updates,
        sign=with_secret,
        path=PATH,
        labels=("chatkeeper serve (webhook)", "baseline: bare webhook app"),
        unit="updates",
        count=5000,
        connections=40,
        capture_mode="all",
    ).run()
