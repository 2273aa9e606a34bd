"""``chatkeeper serve`` screens after each scheduled seal (the SealJob built in chatkeeper/serve.py)."""

from __future__ import annotations

import asyncio
from datetime import UTC, datetime
from pathlib import Path

import aiohttp

from archive.journal.sqlite import SqliteJournal
from archive.store.local_s3 import LocalS3Endpoint
from chatkeeper.screening import queue_path
from chatkeeper.serve import serve
from chatkeeper.settings import load_settings
from supervision.queue import QueueStore
from supervision.review import ItemFilter, list_items
from tests.factories import slack_message

POLICY = """
[[policy]]
name = "desk"
version = "1"
lexicons = ["off_channel", "promissory"]
"""


async def _last_bundle(port: int) -> object:
    async with (
        aiohttp.ClientSession() as http,
        http.get(f"http://127.0.0.1:{port}/healthz") as response,
    ):
        return (await response.json())["last_bundle"]


async def test_serve_seal_queues_review_items(
    tmp_path: Path, s3_endpoint: LocalS3Endpoint, bucket: str
) -> None:
    """A backlog sealed by serve's own scheduler is screened into the queue, no command run."""
    (tmp_path / "policies.toml").write_text(POLICY, encoding="utf-8")
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
            "CHATKEEPER_SCHEDULE_SEAL_BACKLOG_THRESHOLD": "1",
            "CHATKEEPER_SCHEDULE_BACKLOG_CHECK_SECONDS": "0.2",
            "CHATKEEPER_SUPERVISION_POLICY_FILES": str(tmp_path / "policies.toml"),
        },
    )
    texts = ["morning", "Let's move this to WhatsApp", "Garantierte Rendite", "noted"]
    with SqliteJournal(settings.journal_path) as journal:
        journal.append([slack_message(n, text=t) for n, t in enumerate(texts)])
    stop = asyncio.Event()
    ports: list[int] = []
    task = asyncio.create_task(serve(settings, stop=stop, on_ready=ports.append))
    items: list[dict[str, object]] = []
    try:
        for _ in range(600):
            if ports and await _last_bundle(ports[0]) == 1:
                with QueueStore(queue_path(settings)) as queue:
                    items = list_items(queue, ItemFilter(), datetime.now(UTC))
                if items:
                    break
            await asyncio.sleep(0.1)
    finally:
        stop.set()
        await asyncio.wait_for(task, 60)
    assert sorted(str(i["record_key"]) for i in items) == sorted(
        slack_message(n, text=texts[n]).key for n in (1, 2)
    )
    with QueueStore(queue_path(settings)) as queue:
        assert queue.last_bundle() == 1
