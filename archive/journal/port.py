"""The Journal port: small Protocols by job, and ``Journal``, their composition.

    RecordLog      captured records: submit/append, lookups, stats
    BundleBook     the sealer's bookkeeping of bundles
    Conversations  which conversations are monitored
    FetchQueue     attachments waiting to be downloaded
    Leases         one holder per scheduled job across replicas

Consumers type a parameter with the narrowest Protocol they need
(``BundleJournal`` for ``seal``, ``SealerJournal`` for scheduled sealing,
``CaptureJournal`` for capture and the attachment worker);
adapters implement the whole ``Journal``. Every adapter (SQLite, PostgreSQL)
passes one contract suite per Protocol under ``tests/contract/``.
Methods block; async callers use :func:`archive.capture.capture`, which waits
on :meth:`RecordLog.submit` without blocking the event loop.
"""

from __future__ import annotations

from collections.abc import Collection, Iterator, Sequence
from concurrent.futures import Future
from dataclasses import dataclass
from datetime import datetime
from enum import StrEnum
from typing import Protocol

from archive.model import Kind, Record


class BundleState(StrEnum):
    OPEN = "open"  # records assigned, nothing known to be uploaded
    RECORDS_STORED = "records_stored"  # records object uploaded, manifest not yet
    SEALED = "sealed"  # manifest uploaded: final


@dataclass(frozen=True, slots=True)
class BundleRow:
    """Bookkeeping of one bundle, as the journal knows it."""

    stream: str
    number: int
    state: BundleState
    created_at: datetime
    retain_until: datetime
    record_count: int
    seq_first: int
    seq_last: int
    records_sha256: str | None = None
    records_size: int | None = None
    records_version: str | None = None
    manifest_sha256: str | None = None
    manifest_version: str | None = None


SealRow = tuple[int, bytes, str, str, str, str]
"""One journal row for sealing: (seq, canonical body, occurred_at, "platform:workspace:conversation", blob hashes separated by spaces, kind)."""


class RowSource(Protocol):
    """Reads a seq range of journal rows for sealing; picklable, so a worker process can read.

    Each call opens its own connection: a source holds only where the journal is.
    """

    def rows(self, first: int, last: int) -> Iterator[SealRow]:
        """Rows with ``first <= seq <= last`` in seq order, streamed."""
        ...


@dataclass(frozen=True, slots=True)
class JournalStats:
    records: int
    unsealed: int
    oldest_unsealed_captured_at: datetime | None
    last_sealed: BundleRow | None


@dataclass(frozen=True, slots=True)
class Monitored:
    platform: str
    workspace: str
    conversation: str
    conversation_name: str | None
    enabled: bool
    changed_by: str
    changed_at: datetime


@dataclass(frozen=True, slots=True)
class FetchTask:
    """One attachment waiting to be downloaded into a blob."""

    id: int
    record_key: str
    platform: str
    ref: str
    name: str
    attempts: int
    not_before: datetime
    details: str  # adapter-specific JSON (never a token)


class RecordLog(Protocol):
    """Captured records, durable in seq order."""

    def submit(self, records: Sequence[Record]) -> Future[list[int]]:
        """Queue records for the next group commit.

        The future resolves to one seq per record once they are durable (an
        existing seq for a duplicate key), or fails with JournalError.
        """
        ...

    def append(self, records: Sequence[Record]) -> list[int]:
        """``submit(records).result()``: returns when the records are durable."""
        ...

    def get(self, key: str) -> Record | None: ...

    def contains(self, keys: Sequence[str]) -> set[str]:
        """The subset of ``keys`` already in the journal."""
        ...

    def iter_records(self, after_seq: int = 0, limit: int | None = None) -> Iterator[Record]:
        """Records in seq order (for status, reconciliation, tests)."""
        ...

    def find_records(
        self,
        platform: str,
        *,
        workspace: str | None = None,
        conversation: str | None = None,
        kinds: Collection[Kind] = (),
        since: datetime | None = None,
    ) -> Iterator[Record]:
        """Records of ``platform`` matching every filter given, in seq order, streamed.

        ``since`` keeps records that occurred at or after it. An index on
        (platform, conversation, kind, occurred_at) finds them, and only the
        matching rows are read and decoded: the cost follows the matches, not
        the journal's size.
        """
        ...

    def stats(self, stream: str) -> JournalStats: ...


class BundleBook(Protocol):
    """The sealer's bookkeeping: which seq ranges form which bundle, in which state."""

    def unfinished_bundles(self, stream: str) -> list[BundleRow]:
        """Bundles a previous run left half-done, in number order."""
        ...

    def open_bundle(
        self,
        stream: str,
        *,
        max_records: int,
        max_bytes: int,
        created_at: datetime,
        retain_until: datetime,
    ) -> BundleRow | None:
        """Assign the oldest unsealed records to the next bundle number.

        Returns None when nothing is unsealed. A bundle is the seq range after the
        previous bundle's ``seq_last``: adapters guarantee that seqs become
        visible in increasing order (one writer, or appends serialized by a lock),
        so no record can commit later with a lower seq and be skipped.
        """
        ...

    def bundle_rows(self, stream: str, number: int) -> Iterator[SealRow]:
        """The bundle's records in seq order, streamed."""
        ...

    def row_source(self) -> RowSource:
        """A picklable reader of seq ranges (what sealing worker processes read with)."""
        ...

    def update_bundle(self, row: BundleRow) -> None:
        """Store new state/hashes/versions of a bundle (durably)."""
        ...

    def bundles(self, stream: str) -> list[BundleRow]: ...

    def bundle(self, stream: str, number: int) -> BundleRow | None:
        """One bundle's bookkeeping, without reading the others."""
        ...


class Conversations(Protocol):
    """Which conversations are monitored, as the admin commands set them."""

    def set_monitoring(self, entry: Monitored) -> None: ...

    def monitoring(self, platform: str | None = None) -> list[Monitored]: ...

    def is_monitored(self, platform: str, workspace: str, conversation: str) -> bool: ...


class FetchQueue(Protocol):
    """Attachments waiting to be downloaded into blobs."""

    def enqueue_fetch(
        self, record_key: str, platform: str, ref: str, name: str, details: str, now: datetime
    ) -> None:
        """Idempotent on (record_key, ref)."""
        ...

    def claim_fetches(self, now: datetime, limit: int) -> list[FetchTask]: ...

    def finish_fetch(self, task_id: int) -> None: ...

    def retry_fetch(self, task_id: int, not_before: datetime, error: str) -> None: ...

    def pending_fetches(self) -> int:
        """How many fetches are queued and not yet settled (the queue depth)."""
        ...


class Leases(Protocol):
    """Leases for scheduled jobs: one holder at a time across replicas."""

    def acquire_lease(self, name: str, holder: str, now: datetime, ttl_seconds: float) -> bool:
        """Take or renew the lease; False if another holder has it."""
        ...

    def release_lease(self, name: str, holder: str) -> None: ...


class BundleJournal(RecordLog, BundleBook, Protocol):
    """What ``seal`` reads and writes: the records and the bundle bookkeeping."""


class SealerJournal(BundleJournal, Leases, Protocol):
    """What scheduled sealing and key rotation need: sealing under a lease."""


class CaptureJournal(RecordLog, FetchQueue, Protocol):
    """What the capture step and the attachment worker need: records and their file fetches."""


class Journal(RecordLog, BundleBook, Conversations, FetchQueue, Leases, Protocol):
    """The whole port, as adapters implement it."""

    def close(self) -> None: ...
