"""The attachment fetch worker shared by the bots.

Adapters enqueue a FetchTask (``journal.enqueue_fetch``) when a record
references a platform file, and supply a Downloader for their platform. The
worker claims tasks, lets the downloader stream the file into a size-capped,
hashing temporary file, uploads it as a content-addressed, Object-Locked blob
(``blobs/sha256/..``), and appends an ``attachment_stored`` record that names
the original record and the final state: stored, too_large or unavailable.
Transient failures are retried with exponential backoff up to a limit. A body
shorter than the size the platform declared (``size`` in the task details) is a
failed fetch, never a stored blob; the declared size is carried into the
``attachment_stored`` record (``declared_size``) so ``verify --deep`` can compare.
File names never reach a filesystem path here.
"""

from __future__ import annotations

import asyncio
import contextlib
import hashlib
import json
import tempfile
from collections.abc import Mapping
from dataclasses import dataclass
from datetime import datetime, timedelta
from typing import BinaryIO, Protocol

import structlog

from archive.bundle import Layout
from archive.capture import capture
from archive.clock import Clock
from archive.codec import canonical_json
from archive.errors import AttachmentTooLargeError, AttachmentUnavailableError
from archive.journal import FetchTask, Journal
from archive.journal.aio import AsyncJournal
from archive.model import Attachment, AttachmentState, Kind, Record, record_key
from archive.observe import observer
from archive.store import ArchiveStore, Retention

log = structlog.get_logger("chatkeeper.attachments")


@dataclass(frozen=True)
class Downloaded:
    mime: str | None = None


class Sink:
    """Where a downloader writes: counts, hashes and enforces the size cap."""

    def __init__(self, target: BinaryIO, limit: int) -> None:
        self._target = target
        self.limit = limit
        self.size = 0
        self._digest = hashlib.sha256()

    def write(self, chunk: bytes) -> None:
        self.size += len(chunk)
        if self.size > self.limit:
            raise AttachmentTooLargeError(None, self.limit)
        self._digest.update(chunk)
        self._target.write(chunk)

    @property
    def sha256(self) -> str:
        return self._digest.hexdigest()


class Downloader(Protocol):
    async def download(self, task: FetchTask, sink: Sink) -> Downloaded:
        """Stream the file of ``task`` into ``sink``.

        Raise AttachmentUnavailableError (transient or permanent) or
        AttachmentTooLargeError (e.g. when the platform announces the size).
        Never put a token-bearing URL into an exception or a log line.
        """
        ...


@dataclass(frozen=True)
class FetchPolicy:
    layout: Layout
    max_bytes: int = 100 * 1024 * 1024
    max_attempts: int = 5
    base_delay_seconds: float = 5.0
    max_delay_seconds: float = 3600.0
    retention_mode: str = "COMPLIANCE"
    retention_days: int = 2557


def declared_size(details: str | None) -> int | None:
    """The file size the platform announced, from a task's details (``size``), if any."""
    try:
        size = json.loads(details or "{}").get("size")
    except (ValueError, AttributeError):
        return None
    return size if isinstance(size, int) and not isinstance(size, bool) and size >= 0 else None


def attachment_record(
    original: Record,
    attachment: Attachment,
    captured_at: datetime,
    *,
    declared: int | None = None,
    repairs: str | None = None,
) -> Record:
    """The ``attachment_stored`` record that settles one attachment of ``original``.

    ``declared`` is the size the platform announced; ``repairs`` names the
    earlier ``attachment_stored`` record a repair supersedes (and gives the
    repair its own deterministic key).
    """
    fields: dict[str, object] = {
        "record_key": original.key,
        "ref": attachment.ref,
        "state": attachment.state.value,
        "sha256": attachment.sha256,
        "size": attachment.size,
        "mime": attachment.mime,
        "reason": attachment.reason,
        "declared_size": declared,
    }
    details: dict[str, object] = {"record_key": original.key}
    if declared is not None:
        details["declared_size"] = declared
    identity: tuple[str, ...] = ("attachment", original.key, attachment.ref or attachment.name)
    if repairs is not None:
        fields["repairs"] = repairs
        details["repairs"] = repairs
        identity = ("attachment-repair", original.key, attachment.ref or attachment.name, repairs)
    return Record(
        key=record_key(original.platform.value, original.workspace, *identity),
        platform=original.platform,
        workspace=original.workspace,
        conversation=original.conversation,
        conversation_name=original.conversation_name,
        kind=Kind.ATTACHMENT_STORED,
        source=original.source,
        message_id=original.message_id,
        thread_id=original.thread_id,
        actor=original.actor,
        occurred_at=original.occurred_at,
        captured_at=captured_at,
        attachments=(attachment,),
        details=details,
        raw=canonical_json(fields),
    )


class AttachmentFetcher:
    def __init__(
        self,
        journal: Journal,
        store: ArchiveStore,
        downloaders: Mapping[str, Downloader],
        policy: FetchPolicy,
        clock: Clock,
    ) -> None:
        self.journal = journal
        self.aio = AsyncJournal(journal)
        self.store = store
        self.downloaders = downloaders
        self.policy = policy
        self.clock = clock

    async def run_once(self, limit: int = 16) -> int:
        """Process the tasks that are due now; return how many were claimed."""
        tasks = await self.aio.claim_fetches(self.clock.now(), limit)
        for task in tasks:
            await self._process(task)
        return len(tasks)

    async def run_forever(self, stop: asyncio.Event, idle_seconds: float = 2.0) -> None:
        while not stop.is_set():
            if await self.run_once() == 0:
                with contextlib.suppress(TimeoutError):
                    await asyncio.wait_for(stop.wait(), idle_seconds)

    async def fetch(self, task: FetchTask, downloader: Downloader) -> Attachment:
        """Download ``task`` and store it as a locked blob; the ``stored`` Attachment.

        Raises AttachmentTooLargeError, or AttachmentUnavailableError (transient)
        when the body is shorter than the size the platform declared.
        """
        declared = declared_size(task.details)
        with tempfile.TemporaryFile() as spool:
            sink = Sink(spool, self.policy.max_bytes)
            result = await downloader.download(task, sink)
            if declared is not None and sink.size < declared:
                raise AttachmentUnavailableError(
                    f"received {sink.size} of the {declared} bytes the platform declared",
                    category="incomplete",
                )
            spool.seek(0)
            await asyncio.to_thread(self._upload, spool, sink)
        return Attachment(
            name=task.name,
            state=AttachmentState.STORED,
            sha256=sink.sha256,
            mime=result.mime,
            size=sink.size,
            ref=task.ref,
        )

    async def _process(self, task: FetchTask) -> None:
        original = await self.aio.get(task.record_key)
        downloader = self.downloaders.get(task.platform)
        if original is None or downloader is None:
            observer().fetch_failed(task.platform, "orphaned")
            await self._retry_or_give_up(
                task, "no original record or no downloader", permanent=original is None
            )
            return
        try:
            stored = await self.fetch(task, downloader)
        except AttachmentTooLargeError as exc:
            observer().fetch_failed(task.platform, "too_large")
            await self._settle(
                task,
                original,
                Attachment(
                    name=task.name,
                    state=AttachmentState.TOO_LARGE,
                    size=exc.size,
                    ref=task.ref,
                    reason=f"larger than the {exc.limit}-byte limit",
                ),
            )
            return
        except AttachmentUnavailableError as exc:
            observer().fetch_failed(task.platform, exc.category)
            await self._retry_or_give_up(
                task, exc.reason, permanent=exc.permanent, original=original
            )
            return
        await self._settle(task, original, stored)

    def _upload(self, spool: BinaryIO, sink: Sink) -> None:
        until = (self.clock.now() + timedelta(days=self.policy.retention_days)).replace(
            microsecond=0
        )
        store_blob(
            self.store,
            self.policy.layout,
            spool,
            size=sink.size,
            sha256_hex=sink.sha256,
            retention=Retention(self.policy.retention_mode, until),
        )

    async def _settle(self, task: FetchTask, original: Record, attachment: Attachment) -> None:
        record = attachment_record(
            original, attachment, self.clock.now(), declared=declared_size(task.details)
        )
        await capture(self.journal, [record])
        await self.aio.finish_fetch(task.id)
        log.info(
            "attachment.settled", task=task.id, state=attachment.state.value, size=attachment.size
        )

    async def _retry_or_give_up(
        self, task: FetchTask, reason: str, *, permanent: bool, original: Record | None = None
    ) -> None:
        attempts = task.attempts + 1
        if original is not None and (permanent or attempts >= self.policy.max_attempts):
            await self._settle(
                task,
                original,
                Attachment(
                    name=task.name,
                    state=AttachmentState.UNAVAILABLE,
                    ref=task.ref,
                    reason=f"{reason} (after {attempts} attempt{'s' if attempts > 1 else ''})",
                ),
            )
            return
        delay = min(
            self.policy.base_delay_seconds * 2**task.attempts, self.policy.max_delay_seconds
        )
        await self.aio.retry_fetch(task.id, self.clock.now() + timedelta(seconds=delay), reason)
        log.warning("attachment.retry", task=task.id, attempts=attempts, delay=delay)


def store_blob(
    store: ArchiveStore,
    layout: Layout,
    data: BinaryIO,
    *,
    size: int,
    sha256_hex: str,
    retention: Retention,
) -> str:
    """Upload a content-addressed, locked blob unless it is already there; return its key."""
    key = layout.blob_key(sha256_hex)
    if not any(v.key == key and not v.is_delete_marker for v in store.versions(key)):
        store.put_stream(key, data, size=size, sha256_hex=sha256_hex, retention=retention)
    return key


def task_details(**fields: str | int | None) -> str:
    """Adapter-specific task details as JSON (ids and hosts, never a token)."""
    return json.dumps(fields, sort_keys=True)
