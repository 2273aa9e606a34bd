"""Sealing: journal -> bundle -> store. Idempotent and resumable.

A bundle goes through three durable states in the journal:

1. OPEN: the journal assigned records to bundle N (their content is fixed).
2. RECORDS_STORED: the records object is on S3 and its version id is known.
3. SEALED: the signed manifest is on S3 and its version id is known.

After new bundles, and whenever the newest checkpoint is older than the
checkpoint interval (even with nothing to seal), a signed checkpoint naming the
last bundle is sealed too (``archive.checkpoint``).

A crash anywhere leaves the bundle in one of these states; the next run
rebuilds the same bytes and *adopts* an object it finds on S3 if its content is
what we would write, or uploads it if absent. Content that differs is a
StoreConflictError: we never write a second, different version of an archive key.
"""

from __future__ import annotations

import hashlib
import itertools
from collections import deque
from collections.abc import Iterator
from concurrent.futures import Future
from dataclasses import dataclass, replace
from datetime import datetime, timedelta

import structlog

from archive.bundle import (
    HashingReader,
    Layout,
    RecordsObject,
    build_manifest,
    iter_lines,
    sign_manifest,
)
from archive.checkpoint import Checkpoint, checkpoint_due, write_checkpoint
from archive.clock import Clock
from archive.errors import ObjectLockError, SealError, StoreConflictError
from archive.frames import FRAME_BYTES
from archive.journal import BundleBook, BundleJournal, BundleRow, BundleState, RecordLog
from archive.keys import Signer
from archive.merkle import leaf_hash, root
from archive.progress import NO_PROGRESS, Progress
from archive.retention_class import RetentionClass, RetentionRule, classify
from archive.seal_build import Builder, Compression, builder_for
from archive.store import ArchiveStore, Retention

log = structlog.get_logger("chatkeeper.seal")


@dataclass(frozen=True)
class SealPolicy:
    layout: Layout
    retention_mode: str = "COMPLIANCE"
    retention_days: int = 2557
    min_retention_days: int = 2190
    max_records: int = 100_000
    max_bytes: int = 64 * 1024 * 1024
    zstd_level: int = 3
    frame_bytes: int = FRAME_BYTES  # lines per zstd frame of a records object (``archive.frames``)
    checkpoint_interval_seconds: float = 3600.0
    # >1: records objects are built in that many worker processes when a run has
    # more than one bundle (``archive.seal_build``); 1: on one thread.
    build_workers: int = 1
    retention_rules: tuple[RetentionRule, ...] = ()  # none: every bundle gets retention_days

    def retention_class(self, conversation_key: str) -> RetentionClass:
        return classify(self.retention_rules, self.retention_days, conversation_key)


@dataclass(frozen=True)
class SealReport:
    bundles: tuple[BundleRow, ...]
    checkpoint: Checkpoint | None = None  # the checkpoint this run sealed, if any

    @property
    def records(self) -> int:
        return sum(b.record_count for b in self.bundles)


def check_bucket(store: ArchiveStore, policy: SealPolicy) -> None:
    """Fail closed: versioning and Object Lock on, retention long enough."""
    info = store.lock_info()
    if not info.versioning or not info.object_lock:
        raise ObjectLockError(
            f"bucket {store.bucket!r} does not have Object Lock enabled "
            f"(versioning={'on' if info.versioning else 'off'}, "
            f"object lock={'on' if info.object_lock else 'off'}); refusing to seal. "
            "Create the bucket with Object Lock (see docs/operations.md)."
        )
    if policy.retention_days < policy.min_retention_days:
        raise ObjectLockError(
            f"configured retention ({policy.retention_days} days) is below the minimum "
            f"({policy.min_retention_days} days); refusing to seal"
        )
    for rule in policy.retention_rules:
        if rule.period < timedelta(days=policy.min_retention_days):
            raise ObjectLockError(
                f"retention rule {rule.text!r} is below the minimum "
                f"({policy.min_retention_days} days); refusing to seal"
            )


def _retain_until(created_at: datetime, days: int) -> datetime:
    return (created_at + timedelta(days=days)).replace(microsecond=0)


def seal(
    journal: BundleJournal,
    store: ArchiveStore,
    signer: Signer,
    policy: SealPolicy,
    clock: Clock,
    progress: Progress = NO_PROGRESS,
) -> SealReport:
    """Seal every unsealed record into bundles; return the bundles sealed by this run.

    ``progress`` counts records as their bundle is sealed and names each step.
    """
    progress.step("checking the bucket")
    check_bucket(store, policy)
    _check_stream_start(journal, store, policy.layout)
    progress.total(journal.stats(policy.layout.stream).unsealed, "record")
    rows = _bundles_to_seal(journal, policy, clock)
    ahead = list(itertools.islice(rows, 2))  # two bundles or more: worth worker processes
    sealed: list[BundleRow] = []
    how = Compression(policy.zstd_level, policy.frame_bytes)
    builder = builder_for(journal.row_source(), how, policy.build_workers, len(ahead))
    try:
        building = _Building(builder, itertools.chain(ahead, rows))
        building.fill()  # the first records objects are built while the key is published
        publish_key(store, signer, policy, clock)
        _seal_in_order(journal, store, signer, policy, building, sealed, progress)
    finally:
        builder.close()
    progress.step("checkpoint")
    checkpoint = _checkpoint(journal, store, signer, policy, clock, sealed)
    return SealReport(tuple(sealed), checkpoint)


def _bundles_to_seal(
    journal: BundleJournal, policy: SealPolicy, clock: Clock
) -> Iterator[BundleRow]:
    """A crashed run's unfinished bundles first, then new bundles, opened one at a time.

    With retention rules, a new bundle ends where the retention class changes.
    """
    stream = policy.layout.stream
    resume = journal.unfinished_bundles(stream)
    last_sealed = journal.stats(stream).last_sealed if policy.retention_rules else None
    watermark = max([r.seq_last for r in resume] + [last_sealed.seq_last if last_sealed else 0])
    yield from resume
    while True:
        created = clock.now().replace(microsecond=0)
        count, period = _next_class_run(journal, policy, watermark)
        row = journal.open_bundle(
            stream,
            max_records=count,
            max_bytes=policy.max_bytes,
            created_at=created,
            retain_until=(created + period).replace(microsecond=0),
        )
        if row is None:
            return
        watermark = max(watermark, row.seq_last)
        yield row


class _Building:
    """Bundles in number order, each with the build of its records object under way."""

    def __init__(self, builder: Builder, rows: Iterator[BundleRow]) -> None:
        self._builder = builder
        self._rows = rows
        self._pending: deque[tuple[BundleRow, Future[RecordsObject]]] = deque()

    def fill(self) -> None:
        """Open and submit bundles until the builder has ``depth`` of them in flight."""
        while len(self._pending) < self._builder.depth:
            row = next(self._rows, None)
            if row is None:
                return
            self._pending.append((row, self._builder.submit(row)))

    def next(self) -> tuple[BundleRow, Future[RecordsObject]] | None:
        """The next bundle in number order, after topping the builds up; None when done."""
        self.fill()
        return self._pending.popleft() if self._pending else None


def _seal_in_order(
    journal: BundleBook,
    store: ArchiveStore,
    signer: Signer,
    policy: SealPolicy,
    building: _Building,
    sealed: list[BundleRow],
    progress: Progress,
) -> None:
    """Finish bundles in number order while the builder builds the next ones, each once."""
    while (item := building.next()) is not None:
        row, built = item
        progress.step(f"bundle {row.number}")
        sealed.append(_finish_bundle(journal, store, signer, policy, row, built.result()))
        progress.advance(row.record_count)


def _next_class_run(
    journal: RecordLog, policy: SealPolicy, after_seq: int
) -> tuple[int, timedelta]:
    """(records, retention period) of the next bundle: it ends where the retention class changes."""
    default = timedelta(days=policy.retention_days)
    if not policy.retention_rules:
        return policy.max_records, default
    run = 0
    first: RetentionClass | None = None
    for record in journal.iter_records(after_seq, limit=policy.max_records):
        found = policy.retention_class(
            f"{record.platform.value}:{record.workspace}:{record.conversation}"
        )
        if first is not None and found != first:
            break
        first, run = found, run + 1
    return max(run, 1), first.period if first else default


def _checkpoint(
    journal: RecordLog,
    store: ArchiveStore,
    signer: Signer,
    policy: SealPolicy,
    clock: Clock,
    sealed: list[BundleRow],
) -> Checkpoint | None:
    """Seal a checkpoint after new bundles, or when the newest one is an interval old."""
    now = clock.now()
    if not sealed:
        interval = timedelta(seconds=policy.checkpoint_interval_seconds)
        due, _ = checkpoint_due(store, policy.layout, now, interval)
        if not due:
            return None
    last = sealed[-1] if sealed else journal.stats(policy.layout.stream).last_sealed
    return write_checkpoint(
        store,
        policy.layout,
        signer,
        now=now,
        last_bundle=last.number if last else 0,
        last_manifest_sha256=last.manifest_sha256 if last else None,
        retention=Retention(
            policy.retention_mode, _retain_until(now.replace(microsecond=0), policy.retention_days)
        ),
    )


def _check_stream_start(journal: BundleBook, store: ArchiveStore, layout: Layout) -> None:
    if journal.bundle(layout.stream, 1) is not None:
        return
    for version in store.versions(layout.bundles_prefix):
        raise SealError(
            f"stream {layout.stream!r} already has bundles in bucket {store.bucket!r} "
            f"(found {version.key}) but this journal has sealed none: refusing to fork the "
            "chain. Use the journal that sealed them, or another stream name."
        )


def publish_key(store: ArchiveStore, signer: Signer, policy: SealPolicy, clock: Clock) -> None:
    key = policy.layout.public_key_key(signer.public.key_id)
    if any(v.key == key and not v.is_delete_marker for v in store.versions(key)):
        return
    data = signer.public.to_json()
    created = clock.now().replace(microsecond=0)
    store.put(
        key,
        data,
        sha256_hex=hashlib.sha256(data).hexdigest(),
        retention=Retention(policy.retention_mode, _retain_until(created, policy.retention_days)),
    )


def _existing_versions(store: ArchiveStore, key: str) -> list[str]:
    return [v.version_id for v in store.versions(key) if v.key == key and not v.is_delete_marker]


def _store_records(
    store: ArchiveStore, key: str, records: RecordsObject, retention: Retention
) -> tuple[str, str, int]:
    """Store the records object, or adopt the one a crashed run stored with the same lines.

    Returns (version id, SHA-256, size) of the object stored: an adopted one may be
    another zstd build of the same lines, and the manifest describes what is stored.
    """
    for version in _existing_versions(store, key):
        body = HashingReader(store.open(key, version))
        try:
            leaves = [leaf_hash(line) for line in iter_lines(body)]  # type: ignore[arg-type]
            while body.read(1 << 20):  # a trailing frame of nothing counts too
                pass
        finally:
            body.inner.close()
        if root(leaves).hex() == records.merkle_root and len(leaves) == records.record_count:
            log.info("bundle.records_adopted", key=key, version=version)
            return version, body.digest.hexdigest(), body.size
        raise StoreConflictError(f"{key} already holds different records (version {version})")
    version = store.put(key, records.data, sha256_hex=records.sha256, retention=retention)
    return version, records.sha256, records.size


def _store_manifest(store: ArchiveStore, key: str, data: bytes, retention: Retention) -> str:
    for version in _existing_versions(store, key):
        if store.get(key, version) == data:
            log.info("bundle.manifest_adopted", key=key, version=version)
            return version
        raise StoreConflictError(f"{key} already holds a different manifest (version {version})")
    return store.put(key, data, sha256_hex=hashlib.sha256(data).hexdigest(), retention=retention)


def _lock_blobs(
    store: ArchiveStore, layout: Layout, hashes: tuple[str, ...], retention: Retention
) -> list[tuple[str, str]]:
    """Check every referenced blob exists and is locked at least as long as the bundle."""
    found: list[tuple[str, str]] = []
    for digest in hashes:
        key = layout.blob_key(digest)
        versions = _existing_versions(store, key)
        if not versions:
            raise SealError(f"record references blob {digest} that is not in the store")
        current = store.retention(key, versions[0])
        if current is None or current.retain_until < retention.retain_until:
            store.extend_retention(key, versions[0], retention)
        found.append((digest, key))
    return found


def _finish_bundle(
    journal: BundleBook,
    store: ArchiveStore,
    signer: Signer,
    policy: SealPolicy,
    row: BundleRow,
    records: RecordsObject,
) -> BundleRow:
    """Store the built records object and the signed manifest, recording each step."""
    layout = policy.layout
    previous_sha: str | None = None
    if row.number > 1:
        previous = journal.bundle(layout.stream, row.number - 1)
        if (
            previous is None
            or previous.state is not BundleState.SEALED
            or not previous.manifest_sha256
        ):
            raise SealError(f"bundle {row.number - 1} is not sealed; cannot chain {row.number}")
        previous_sha = previous.manifest_sha256
    retention = Retention(policy.retention_mode, row.retain_until)
    records_key = layout.records_key(row.number)
    if row.state is BundleState.OPEN:
        version, sha256, size = _store_records(store, records_key, records, retention)
        row = replace(
            row,
            state=BundleState.RECORDS_STORED,
            records_sha256=sha256,
            records_size=size,
            records_version=version,
        )
        journal.update_bundle(row)
    assert row.records_version and row.records_sha256 and row.records_size is not None
    # On a resumed run the rebuilt bytes may differ (another zstd build); the content
    # does not, and the manifest describes the object that is actually stored. The
    # frame table describes the rebuilt bytes, so it is left out when they differ.
    stored = replace(records, sha256=row.records_sha256, size=row.records_size)
    if stored.sha256 != records.sha256:
        stored = replace(stored, frames=())
    blobs = _lock_blobs(store, layout, records.blobs, retention)
    manifest = sign_manifest(
        build_manifest(
            stream=layout.stream,
            number=row.number,
            created_at=row.created_at,
            seq_first=row.seq_first,
            seq_last=row.seq_last,
            first_occurred_at=records.first_occurred_at,
            last_occurred_at=records.last_occurred_at,
            conversations=records.conversations,
            records_key=records_key,
            records=stored,
            records_version=row.records_version,
            blobs=blobs,
            previous_manifest_sha256=previous_sha,
            retention_mode=policy.retention_mode,
            retain_until=row.retain_until,
            retention_class=(
                policy.retention_class(records.conversations[0]).manifest_fields()
                if policy.retention_rules and records.conversations
                else None
            ),
        ),
        signer,
    )
    manifest_version = _store_manifest(store, layout.manifest_key(row.number), manifest, retention)
    row = replace(
        row,
        state=BundleState.SEALED,
        manifest_sha256=hashlib.sha256(manifest).hexdigest(),
        manifest_version=manifest_version,
    )
    journal.update_bundle(row)
    log.info(
        "bundle.sealed",
        stream=layout.stream,
        bundle=row.number,
        records=row.record_count,
        size=row.records_size,
    )
    return row
