"""The one entry point adapters call to store records durably.

``await capture(journal, records)`` returns only after the records are
committed (rule 1: ack after durable commit). If the journal fails, it raises
``JournalError`` and the caller must answer the platform with an error so the
platform retries. Duplicates (same key) return the existing seq.
"""

from __future__ import annotations

import asyncio
from collections.abc import Sequence

import structlog

from archive.journal.port import Journal
from archive.model import Record

log = structlog.get_logger("chatkeeper.capture")


async def capture(journal: Journal, records: Sequence[Record]) -> list[int]:
    """Make ``records`` durable without blocking the event loop; return their seqs."""
    if not records:
        return []
    seqs = await asyncio.wrap_future(journal.submit(records))
    _log_captured(records, seqs)
    return seqs


def capture_sync(journal: Journal, records: Sequence[Record]) -> list[int]:
    """The blocking twin for importers and CLI commands that run outside asyncio."""
    if not records:
        return []
    seqs = journal.append(records)
    _log_captured(records, seqs)
    return seqs


def _log_captured(records: Sequence[Record], seqs: Sequence[int]) -> None:
    # Identifiers and counts only: never message bodies, raw payloads or tokens.
    log.debug(
        "record.captured",
        count=len(records),
        first_seq=min(seqs),
        last_seq=max(seqs),
        platforms=sorted({r.platform.value for r in records}),
    )
