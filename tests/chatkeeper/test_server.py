"""/healthz and /metrics over real loopback HTTP."""

from __future__ import annotations

from collections.abc import AsyncIterator
from datetime import timedelta

import aiohttp
import pytest
from aiohttp import web

from archive.clock import FixedClock
from archive.journal.sqlite import SqliteJournal
from archive.keys import Signer
from archive.schedule import SealJob
from archive.seal import SealPolicy
from archive.store.s3 import S3ArchiveStore
from chatkeeper.serve import _bound_port
from chatkeeper.server import build_app
from tests.factories import slack_message


@pytest.fixture
async def served(
    journal: SqliteJournal,
    store: S3ArchiveStore,
    signer: Signer,
    policy: SealPolicy,
    clock: FixedClock,
) -> AsyncIterator[tuple[str, SealJob]]:
    job = SealJob(journal, store, signer, policy, clock)
    runner = web.AppRunner(build_app(journal, "test", job, [], overdue_after_seconds=600))
    await runner.setup()
    site = web.TCPSite(runner, "127.0.0.1", 0)
    await site.start()
    port = _bound_port(runner, 0)
    yield f"http://127.0.0.1:{port}", job
    await runner.cleanup()


async def test_healthz_and_metrics(served: tuple[str, SealJob], journal: SqliteJournal) -> None:
    """Health reports the backlog; metrics expose backlog and last bundle before and after a seal."""
    base, job = served
    journal.append([slack_message(i, at=job.clock.now()) for i in range(7)])
    async with aiohttp.ClientSession() as http:
        async with http.get(f"{base}/healthz") as response:
            assert response.status == 200
            assert await response.json() == {
                "backlog": 7,
                "backlog_age_seconds": 0.0,
                "last_bundle": None,
                "seal_failures": 0,
                "seal_overdue": False,
                "status": "ok",
            }
        async with http.get(f"{base}/metrics") as response:
            text = await response.text()
        assert "chatkeeper_backlog_records 7.0" in text
        assert "chatkeeper_last_sealed_bundle 0.0" in text
        job()
        async with http.get(f"{base}/metrics") as response:
            text = await response.text()
        assert "chatkeeper_backlog_records 0.0" in text
        assert "chatkeeper_last_sealed_bundle 1.0" in text
        assert "chatkeeper_seal_consecutive_failures 0.0" in text


async def test_healthz_degraded_when_sealing_is_overdue(
    served: tuple[str, SealJob], journal: SqliteJournal, clock: FixedClock
) -> None:
    """With no seal failure, a backlog older than two intervals makes /healthz degraded."""
    base, _ = served
    journal.append([slack_message(1, at=clock.now())])
    async with aiohttp.ClientSession() as http:
        clock.advance(timedelta(seconds=599))
        async with http.get(f"{base}/healthz") as response:
            assert (await response.json())["status"] == "ok"
        clock.advance(timedelta(seconds=2))
        async with http.get(f"{base}/healthz") as response:
            body = await response.json()
        async with http.get(f"{base}/metrics") as response:
            text = await response.text()
    assert response.status == 200
    assert body["status"] == "degraded" and body["seal_overdue"] is True
    assert body["seal_failures"] == 0 and body["backlog_age_seconds"] > 600
    assert "chatkeeper_backlog_age_seconds 600.8" in text


async def test_healthz_fails_when_journal_fails(
    served: tuple[str, SealJob], journal: SqliteJournal
) -> None:
    """A journal that cannot answer makes /healthz return 503."""
    base, _ = served
    journal.close()
    async with aiohttp.ClientSession() as http, http.get(f"{base}/healthz") as response:
        assert response.status == 503
        assert (await response.json())["status"] == "error"


async def test_serve_seals_on_schedule_and_stops_cleanly(
    tmp_path: object, s3_endpoint: object, bucket: str
) -> None:
    """serve() listens on a free port, seals the backlog on its own, and stops on request."""
    import asyncio
    from pathlib import Path

    from chatkeeper.serve import serve
    from chatkeeper.settings import load_settings

    home = Path(str(tmp_path)) / "home"
    creds = s3_endpoint.archiver  # type: ignore[attr-defined]
    settings = load_settings(
        home=home,
        env={
            "CHATKEEPER_S3_ENDPOINT": s3_endpoint.url,  # type: ignore[attr-defined]
            "CHATKEEPER_S3_BUCKET": bucket,
            "CHATKEEPER_S3_ACCESS_KEY": creds.access_key,
            "CHATKEEPER_S3_SECRET_KEY": creds.secret_key,
            "CHATKEEPER_ARCHIVE_RETENTION_DAYS": "1",
            "CHATKEEPER_ARCHIVE_MIN_RETENTION_DAYS": "1",
            "CHATKEEPER_SERVER_PORT": "0",
            "CHATKEEPER_SCHEDULE_SEAL_BACKLOG_THRESHOLD": "1",
            "CHATKEEPER_SCHEDULE_BACKLOG_CHECK_SECONDS": "0.2",
        },
    )
    with SqliteJournal(settings.journal_path) as journal:
        journal.append([slack_message(i) for i in range(5)])
    stop = asyncio.Event()
    ports: list[int] = []
    task = asyncio.create_task(serve(settings, stop=stop, on_ready=ports.append))
    for _ in range(300):
        if ports:
            break
        await asyncio.sleep(0.05)
    assert ports and ports[0] > 0
    status: dict[str, object] = {}
    async with aiohttp.ClientSession() as http:
        for _ in range(300):
            async with http.get(f"http://127.0.0.1:{ports[0]}/healthz") as response:
                status = await response.json()
            if status["last_bundle"] == 1:
                break
            await asyncio.sleep(0.1)
    stop.set()
    await asyncio.wait_for(task, 60)
    assert status["last_bundle"] == 1 and status["backlog"] == 0
