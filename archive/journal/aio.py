"""The journal's face for the event loop: each blocking port call runs in a worker thread.

The ``Journal`` port blocks (SQLite on its writer thread, PostgreSQL on a
socket). Code on the asyncio loop (the bots, the attachment worker, ``/healthz``)
reaches it only through :class:`AsyncJournal`, so no blocking journal call runs
on the loop. Records are made durable with :func:`archive.capture.capture`,
which awaits the group commit without a thread per call.
"""

from __future__ import annotations

import asyncio
from collections.abc import Sequence
from datetime import datetime

from archive.journal.port import FetchTask, Journal, JournalStats, Monitored
from archive.model import Record


class AsyncJournal:
    """Awaitable wrappers of the blocking journal methods the event loop needs."""

    def __init__(self, port: Journal) -> None:
        self.port = port

    async def get(self, key: str) -> Record | None:
        return await asyncio.to_thread(self.port.get, key)

    async def contains(self, keys: Sequence[str]) -> set[str]:
        return await asyncio.to_thread(self.port.contains, keys)

    async def stats(self, stream: str) -> JournalStats:
        return await asyncio.to_thread(self.port.stats, stream)

    # -- monitored conversations ---------------------------------------------
    async def monitoring(self, platform: str | None = None) -> list[Monitored]:
        return await asyncio.to_thread(self.port.monitoring, platform)

    async def is_monitored(self, platform: str, workspace: str, conversation: str) -> bool:
        return await asyncio.to_thread(self.port.is_monitored, platform, workspace, conversation)

    async def set_monitoring(self, entry: Monitored) -> None:
        await asyncio.to_thread(self.port.set_monitoring, entry)

    # -- attachment fetch queue ----------------------------------------------
    async def claim_fetches(self, now: datetime, limit: int) -> list[FetchTask]:
        return await asyncio.to_thread(self.port.claim_fetches, now, limit)

    async def finish_fetch(self, task_id: int) -> None:
        await asyncio.to_thread(self.port.finish_fetch, task_id)

    async def retry_fetch(self, task_id: int, not_before: datetime, error: str) -> None:
        await asyncio.to_thread(self.port.retry_fetch, task_id, not_before, error)

    # -- leases ------------------------------------------------------------------
    async def acquire_lease(self, name: str, holder: str, now: datetime, ttl: float) -> bool:
        return await asyncio.to_thread(self.port.acquire_lease, name, holder, now, ttl)

    async def release_lease(self, name: str, holder: str) -> None:
        await asyncio.to_thread(self.port.release_lease, name, holder)
