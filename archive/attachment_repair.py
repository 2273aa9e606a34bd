"""Repair of attachments stored with fewer bytes than their platform declared.

Archives written before the fix of silently empty Telegram media hold
``attachment_stored`` records that say ``stored`` for an empty blob. The
repair scans the journal for stored copies shorter than the declared size
(:class:`archive.blob_check.SizeLedger`), fetches each file again through the
platform's downloader while the platform still serves it, and appends a new
``attachment_stored`` record with its own deterministic key
(``details.repairs`` names the record it supersedes). Nothing is updated in
place. A file the platform no longer serves is reported, not recorded, so a
later run can try again.
"""

from __future__ import annotations

import json
from collections.abc import Callable, Mapping
from dataclasses import dataclass

import structlog

from archive.attachments import AttachmentFetcher, attachment_record, task_details
from archive.blob_check import SizeLedger, StoredCopy
from archive.capture import capture
from archive.errors import AttachmentTooLargeError, AttachmentUnavailableError
from archive.journal import FetchTask, Journal
from archive.journal.aio import AsyncJournal
from archive.model import Record

log = structlog.get_logger("chatkeeper.attachments")

# Platform -> how to rebuild a downloader's task details from the sharing record.
DetailsFor = Callable[[Record, str], str | None]


@dataclass(frozen=True)
class ShortAttachment:
    """A stored copy shorter than declared, with nothing later that settles it."""

    copy: StoredCopy
    declared: int
    stored: int


@dataclass(frozen=True)
class RepairOutcome:
    item: ShortAttachment
    repaired: bool
    reason: str | None = None
    sha256: str | None = None
    key: str | None = None  # the new attachment_stored record

    def to_json(self) -> dict[str, object]:
        copy = self.item.copy
        return {
            "platform": copy.platform,
            "conversation": copy.conversation,
            "record_key": copy.file[0],
            "ref": copy.file[1],
            "stored_record_key": copy.key,
            "declared_size": self.item.declared,
            "stored_size": self.item.stored,
            "repaired": self.repaired,
            "reason": self.reason,
            "sha256": self.sha256,
            "repair_record_key": self.key,
        }


def find_short_attachments(journal: Journal) -> list[ShortAttachment]:
    """Every stored attachment of the journal shorter than its platform declared; blocking."""
    ledger = SizeLedger()
    for record in journal.iter_records():
        ledger.add(record)
    return [
        ShortAttachment(copy, declared, size)
        for copy, declared, size in ledger.mismatches(lambda c: c.size)
        if size < declared
    ]


async def repair_one(
    journal: Journal,
    fetcher: AttachmentFetcher,
    details_for: Mapping[str, DetailsFor],
    item: ShortAttachment,
) -> RepairOutcome:
    """Fetch one file again; on success append the superseding attachment_stored record."""
    copy = item.copy
    original = await AsyncJournal(journal).get(copy.file[0])
    if original is None:
        return RepairOutcome(item, False, "the record that shared the file is not in the journal")
    downloader = fetcher.downloaders.get(copy.platform)
    build = details_for.get(copy.platform)
    if downloader is None or build is None:
        return RepairOutcome(item, False, f"{copy.platform} is not configured")
    details = build(original, copy.file[1])
    if details is None:
        return RepairOutcome(item, False, "the original payload holds no fetchable file id")
    task = FetchTask(
        id=0,
        record_key=original.key,
        platform=copy.platform,
        ref=copy.file[1],
        name=copy.name,
        attempts=0,
        not_before=fetcher.clock.now(),
        details=_with_declared(details, item.declared),
    )
    try:
        stored = await fetcher.fetch(task, downloader)
    except AttachmentTooLargeError as exc:
        return RepairOutcome(item, False, f"larger than the {exc.limit}-byte limit")
    except AttachmentUnavailableError as exc:
        return RepairOutcome(item, False, exc.reason)
    if stored.size != item.declared:
        return RepairOutcome(
            item, False, f"the platform now serves {stored.size} of {item.declared} bytes"
        )
    record = attachment_record(
        original, stored, fetcher.clock.now(), declared=item.declared, repairs=copy.key
    )
    await capture(journal, [record])
    log.info("attachment.repaired", ref=copy.file[1], size=stored.size)
    return RepairOutcome(item, True, sha256=stored.sha256, key=record.key)


def _with_declared(details: str, declared: int) -> str:
    """The task details with ``size`` set: the worker then refuses a short body."""
    fields = json.loads(details)
    fields["size"] = declared
    return task_details(**fields)
