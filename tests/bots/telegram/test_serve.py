"""`chatkeeper serve` with Telegram configured: the plugin polls, journals and stores media."""

from __future__ import annotations

import asyncio
from pathlib import Path

from archive.journal.sqlite import SqliteJournal
from archive.model import AttachmentState, Kind
from archive.store.local_s3 import LocalS3Endpoint
from bots.telegram.sandbox import payloads as p
from bots.telegram.sandbox.fake_api import FakeBotApi
from chatkeeper.serve import serve
from chatkeeper.settings import load_settings
from tests.bots.telegram.conftest import TOKEN


async def test_serve_runs_the_telegram_bot(
    tmp_path: Path, fake: FakeBotApi, s3_endpoint: LocalS3Endpoint, bucket: str
) -> None:
    """serve() starts the bot from settings; a photo is journaled and stored, then it stops."""
    settings = load_settings(
        home=tmp_path / "home",
        env={
            "CHATKEEPER_S3_ENDPOINT": s3_endpoint.url,
            "CHATKEEPER_S3_BUCKET": bucket,
            "CHATKEEPER_S3_ACCESS_KEY": s3_endpoint.archiver.access_key,
            "CHATKEEPER_S3_SECRET_KEY": s3_endpoint.archiver.secret_key,
            "CHATKEEPER_ARCHIVE_RETENTION_DAYS": "1",
            "CHATKEEPER_ARCHIVE_MIN_RETENTION_DAYS": "1",
            "CHATKEEPER_SERVER_PORT": "0",
            "CHATKEEPER_CAPTURE_MODE": "all",
            "CHATKEEPER_TELEGRAM_TOKEN": TOKEN,
            "CHATKEEPER_TELEGRAM_BASE_URL": fake.base_url,
            "CHATKEEPER_TELEGRAM_BASE_FILE_URL": fake.base_file_url,
            "CHATKEEPER_TELEGRAM_POLL_TIMEOUT_SECONDS": "1",
        },
    )
    photo = fake.add_file(b"\x89PNG served" * 100, name="p.png")
    await fake.push(
        "message", p.message(p.supergroup(), p.user(501, "Alice"), 1, photo=p.photo_sizes(photo))
    )
    stop = asyncio.Event()
    task = asyncio.create_task(serve(settings, stop=stop))
    try:
        async with asyncio.timeout(30):
            while True:
                with SqliteJournal(settings.journal_path) as journal:
                    kinds = [r.kind for r in journal.iter_records()]
                    settled = [
                        r for r in journal.iter_records() if r.kind is Kind.ATTACHMENT_STORED
                    ]
                if settled:
                    break
                await asyncio.sleep(0.2)
    finally:
        stop.set()
        await asyncio.wait_for(task, 60)
    assert kinds[0] is Kind.MESSAGE
    assert settled[0].attachments[0].state is AttachmentState.STORED
    assert fake.state.calls("deleteWebhook") and fake.state.calls("getUpdates")
