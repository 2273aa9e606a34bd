"""The shared attachment worker: blobs on the real SeaweedFS, retries, limits, settle records."""

from __future__ import annotations

import hashlib
import json
from datetime import timedelta

import pytest

from archive.attachments import AttachmentFetcher, Downloaded, FetchPolicy, Sink, task_details
from archive.clock import FixedClock
from archive.errors import AttachmentUnavailableError
from archive.filenames import safe_filename
from archive.journal import FetchTask
from archive.journal.sqlite import SqliteJournal
from archive.model import AttachmentState, Kind
from archive.seal import SealPolicy
from archive.store.s3 import S3ArchiveStore
from tests.factories import slack_message


class ScriptedDownloader:
    """A platform downloader that serves bytes, or fails a set number of times first."""

    def __init__(self, files: dict[str, bytes], failures: int = 0, permanent: bool = False) -> None:
        self.files = files
        self.failures = failures
        self.permanent = permanent
        self.calls: list[str] = []

    async def download(self, task: FetchTask, sink: Sink) -> Downloaded:
        self.calls.append(task.ref)
        if self.failures:
            self.failures -= 1
            raise AttachmentUnavailableError("HTTP 503 from platform", permanent=self.permanent)
        data = self.files[task.ref]
        for start in range(0, len(data), 1000):
            sink.write(data[start : start + 1000])
        return Downloaded(mime="application/pdf")


def _fetcher(
    journal: SqliteJournal,
    store: S3ArchiveStore,
    policy: SealPolicy,
    clock: FixedClock,
    downloader: ScriptedDownloader,
    max_bytes: int = 1 << 20,
) -> AttachmentFetcher:
    return AttachmentFetcher(
        journal,
        store,
        {"slack": downloader},
        FetchPolicy(layout=policy.layout, max_bytes=max_bytes, max_attempts=3, retention_days=1),
        clock,
    )


def _settled(journal: SqliteJournal) -> list[tuple[str, str | None, int | None]]:
    return [
        (r.attachments[0].state.value, r.attachments[0].sha256, r.attachments[0].size)
        for r in journal.iter_records()
        if r.kind is Kind.ATTACHMENT_STORED
    ]


async def test_file_is_stored_as_locked_blob(
    journal: SqliteJournal, store: S3ArchiveStore, policy: SealPolicy, clock: FixedClock
) -> None:
    """A downloaded file becomes a locked blob keyed by its SHA-256 and an attachment_stored record."""
    data = b"%PDF-1.7 " + bytes(range(256)) * 40
    original = slack_message(1)
    journal.append([original])
    journal.enqueue_fetch(
        original.key, "slack", "F1", "../../etc/passwd", task_details(file="F1"), clock.now()
    )
    fetcher = _fetcher(journal, store, policy, clock, ScriptedDownloader({"F1": data}))
    assert await fetcher.run_once() == 1
    digest = hashlib.sha256(data).hexdigest()
    assert _settled(journal) == [("stored", digest, len(data))]
    key = policy.layout.blob_key(digest)
    (version,) = [v for v in store.versions(key) if v.key == key]
    assert store.get(key, version.version_id) == data
    assert (store.retention(key, version.version_id) or object()).mode == "COMPLIANCE"  # type: ignore[union-attr]
    settled = next(r for r in journal.iter_records() if r.kind is Kind.ATTACHMENT_STORED)
    assert settled.details["record_key"] == original.key
    assert await fetcher.run_once() == 0


async def test_transient_failures_are_retried_with_backoff(
    journal: SqliteJournal, store: S3ArchiveStore, policy: SealPolicy, clock: FixedClock
) -> None:
    """A failing download is retried later, then stored once it works."""
    original = slack_message(2)
    journal.append([original])
    journal.enqueue_fetch(original.key, "slack", "F2", "a.pdf", "{}", clock.now())
    downloader = ScriptedDownloader({"F2": b"content"}, failures=1)
    fetcher = _fetcher(journal, store, policy, clock, downloader)
    await fetcher.run_once()
    assert _settled(journal) == []
    assert await fetcher.run_once() == 0  # not due yet
    clock.advance(timedelta(seconds=6))
    await fetcher.run_once()
    assert [s for s, _, _ in _settled(journal)] == ["stored"]
    assert downloader.calls == ["F2", "F2"]


async def test_gives_up_after_the_retry_limit(
    journal: SqliteJournal, store: S3ArchiveStore, policy: SealPolicy, clock: FixedClock
) -> None:
    """After max_attempts the attachment is settled as unavailable with the reason."""
    original = slack_message(3)
    journal.append([original])
    journal.enqueue_fetch(original.key, "slack", "F3", "a.pdf", "{}", clock.now())
    fetcher = _fetcher(journal, store, policy, clock, ScriptedDownloader({}, failures=10))
    for _ in range(3):
        await fetcher.run_once()
        clock.advance(timedelta(hours=1))
    (record,) = [r for r in journal.iter_records() if r.kind is Kind.ATTACHMENT_STORED]
    assert record.attachments[0].state is AttachmentState.UNAVAILABLE
    assert "HTTP 503" in (record.attachments[0].reason or "")
    assert "3 attempts" in (record.attachments[0].reason or "")


async def test_too_large_is_settled_without_upload(
    journal: SqliteJournal, store: S3ArchiveStore, policy: SealPolicy, clock: FixedClock
) -> None:
    """A file over the size cap is recorded as too_large and nothing is uploaded."""
    original = slack_message(4)
    journal.append([original])
    journal.enqueue_fetch(original.key, "slack", "F4", "big.bin", "{}", clock.now())
    fetcher = _fetcher(
        journal, store, policy, clock, ScriptedDownloader({"F4": b"x" * 5000}), max_bytes=4096
    )
    await fetcher.run_once()
    assert [s for s, _, _ in _settled(journal)] == ["too_large"]
    assert list(store.versions("blobs/")) == []


@pytest.mark.parametrize(
    ("hostile", "safe"),
    [
        ("../../etc/passwd", "etc_passwd"),
        ("a\x00b\nc.txt", "a_b_c.txt"),
        ("..", "file"),
        ("CON.txt", "file"),
        ("résumé ✅.pdf", "résumé ✅.pdf"),
        ("x" * 300 + ".pdf", "x" * 116 + ".pdf"),
    ],
)
def test_safe_filename(hostile: str, safe: str) -> None:
    """Hostile platform file names become one harmless path component."""
    assert safe_filename(hostile) == safe


async def test_short_body_for_a_declared_size_is_retried_not_stored(
    journal: SqliteJournal, store: S3ArchiveStore, policy: SealPolicy, clock: FixedClock
) -> None:
    """Zero or too few bytes for a file declared non-empty is a failed fetch: retried, never stored."""
    original = slack_message(5)
    journal.append([original])
    details = task_details(size=4000)
    journal.enqueue_fetch(original.key, "slack", "F5", "a.pdf", details, clock.now())
    downloader = ScriptedDownloader({"F5": b""})
    fetcher = _fetcher(journal, store, policy, clock, downloader)
    await fetcher.run_once()
    assert _settled(journal) == []
    downloader.files["F5"] = b"x" * 1000
    for _ in range(2):
        clock.advance(timedelta(hours=1))
        await fetcher.run_once()
    (record,) = [r for r in journal.iter_records() if r.kind is Kind.ATTACHMENT_STORED]
    assert record.attachments[0].state is AttachmentState.UNAVAILABLE
    assert "received 1000 of the 4000 bytes" in (record.attachments[0].reason or "")
    assert list(store.versions("blobs/")) == []
    assert downloader.calls == ["F5"] * 3


async def test_declared_size_is_carried_into_attachment_stored(
    journal: SqliteJournal, store: S3ArchiveStore, policy: SealPolicy, clock: FixedClock
) -> None:
    """The size the platform declared is kept in the attachment_stored record for verify."""
    data = b"y" * 2500
    original = slack_message(6)
    journal.append([original])
    journal.enqueue_fetch(
        original.key, "slack", "F6", "b.pdf", task_details(size=len(data)), clock.now()
    )
    await _fetcher(journal, store, policy, clock, ScriptedDownloader({"F6": data})).run_once()
    (record,) = [r for r in journal.iter_records() if r.kind is Kind.ATTACHMENT_STORED]
    assert record.details == {"record_key": original.key, "declared_size": len(data)}
    assert json.loads(record.raw)["declared_size"] == len(data)
    assert record.attachments[0].size == len(data)
