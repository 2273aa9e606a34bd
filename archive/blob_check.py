"""Stored attachments against the size their platform declared.

A platform announces a file's size when it shares the file (Telegram
``file_size``, Slack ``size``); the record that references the file keeps it as
``attachments[].size`` and the ``attachment_stored`` record that settles it
carries it as ``details.declared_size``. A blob of another size (an empty blob
for a non-empty file above all) is not the file: ``verify --deep`` reports it
as an integrity failure, and ``chatkeeper attachments repair`` fetches it again.

A later ``attachment_stored`` record of the same file whose blob has the
declared size (a repair) settles the earlier one: records stay append-only, so
the short copy stays in the archive, superseded.
"""

from __future__ import annotations

import hashlib
from collections.abc import Callable, Iterable
from dataclasses import dataclass
from typing import Any

import zstandard

from archive.bundle import Layout, iter_lines
from archive.codec import decode_line
from archive.errors import StoreError, StoreUnavailableError
from archive.model import AttachmentState, Kind, Record
from archive.store import ArchiveStore

EMPTY_SHA256 = hashlib.sha256(b"").hexdigest()
FileId = tuple[str, str]  # (key of the record that shared the file, platform file ref)


@dataclass(frozen=True)
class StoredCopy:
    """One ``stored`` attachment_stored record: which file, which blob, which size."""

    key: str
    file: FileId
    name: str
    platform: str
    conversation: str
    sha256: str
    size: int | None
    declared: int | None
    bundle: int | None = None


def _declared(details: dict[str, Any]) -> int | None:
    value = details.get("declared_size")
    return value if isinstance(value, int) and not isinstance(value, bool) else None


class SizeLedger:
    """Collects, from records in seq order, the declared sizes and the stored copies."""

    def __init__(self) -> None:
        self.declared: dict[FileId, int] = {}
        self.copies: list[StoredCopy] = []

    def add(self, record: Record, bundle: int | None = None) -> None:
        if record.kind is not Kind.ATTACHMENT_STORED:
            for attachment in record.attachments:
                if attachment.ref and isinstance(attachment.size, int):
                    self.declared.setdefault((record.key, attachment.ref), attachment.size)
            return
        original = record.details.get("record_key")
        for attachment in record.attachments:
            if attachment.state is not AttachmentState.STORED or not attachment.sha256:
                continue
            self.copies.append(
                StoredCopy(
                    key=record.key,
                    file=(str(original), attachment.ref or attachment.name),
                    name=attachment.name,
                    platform=record.platform.value,
                    conversation=record.conversation,
                    sha256=attachment.sha256,
                    size=attachment.size,
                    declared=_declared(dict(record.details)),
                    bundle=bundle,
                )
            )

    def declared_for(self, copy: StoredCopy) -> int | None:
        return copy.declared if copy.declared is not None else self.declared.get(copy.file)

    def mismatches(
        self, actual: Callable[[StoredCopy], int | None]
    ) -> list[tuple[StoredCopy, int, int]]:
        """``(copy, declared, actual size)`` of every copy whose size is not the declared one.

        ``actual`` gives a copy's real size (None: unknown, skipped). Files that
        also have a copy of the declared size are settled and left out.
        """
        wrong: list[tuple[StoredCopy, int, int]] = []
        settled: set[FileId] = set()
        for copy in self.copies:
            declared, size = self.declared_for(copy), actual(copy)
            if declared is None or size is None:
                continue
            if size == declared:
                settled.add(copy.file)
            else:
                wrong.append((copy, declared, size))
        return [w for w in wrong if w[0].file not in settled]


def describe(copy: StoredCopy, declared: int, size: int) -> str:
    what = "an empty blob" if size == 0 else f"a {size}-byte blob"
    return (
        f"attachment {copy.file[1]} of record {copy.file[0]} is stored as {what}"
        f" ({copy.sha256}) but the platform declared {declared} bytes"
    )


class DeclaredSizeCheck:
    """The ``verify --deep`` check: each stored blob's real size against the declared size."""

    def __init__(self, store: ArchiveStore, layout: Layout) -> None:
        self.store = store
        self.layout = layout
        self.ledger = SizeLedger()

    def add_bundle(self, number: int, doc: dict[str, Any]) -> None:
        """Read the bundle's records (unreadable ones are reported by the records check)."""
        spec = doc.get("records") or {}
        try:
            body = self.store.open(str(spec["key"]), str(spec["version_id"]))
        except StoreError as exc:
            if isinstance(exc, StoreUnavailableError):
                raise
            return  # the records check reports a missing records object
        try:
            for record in _records(iter_lines(body)):
                self.ledger.add(record, number)
        except (ValueError, OSError, zstandard.ZstdError):
            pass  # the records check reports a records object that cannot be read
        finally:
            body.close()

    def _blob_size(self, copy: StoredCopy) -> int | None:
        if copy.sha256 == EMPTY_SHA256:
            return 0
        key = self.layout.blob_key(copy.sha256)
        real = [v for v in self.store.versions(key) if v.key == key and not v.is_delete_marker]
        return real[0].size if real else None  # a missing blob is the blob check's finding

    def problems(self) -> list[tuple[int | None, str]]:
        """``(bundle, message)`` for every blob whose size is not the declared one."""
        return [
            (copy.bundle, describe(copy, declared, size))
            for copy, declared, size in self.ledger.mismatches(self._blob_size)
        ]


def _records(lines: Iterable[bytes]) -> Iterable[Record]:
    for line in lines:
        try:
            yield decode_line(line)
        except (ValueError, KeyError, TypeError):
            continue
