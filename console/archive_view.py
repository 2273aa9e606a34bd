"""What the console reads from the sealed archive, always verified, never written.

Records come only from ``archive.read.read_bundles`` (signature, chain link,
records hash, size and Merkle root checked before a record is yielded), with
the trusted keys the CLI uses. A bundle that fails verification stops the
page with ``IntegrityError``: the console shows no unverified record. Blobs
are read from their original (locked) version and served only after their
SHA-256 matches the hash the record names.
"""

from __future__ import annotations

import hashlib
import tempfile
import threading
from collections import OrderedDict
from collections.abc import Iterator
from dataclasses import dataclass, field
from typing import IO, Any

from archive.bundle import Layout
from archive.errors import IntegrityError
from archive.keys import PublicKey
from archive.model import Attachment, AttachmentState, Kind, Record, target_of
from archive.read import consecutive_runs, read_bundles
from archive.store import ArchiveStore
from archive.verify import VerifyReport, check_manifest, original_version, verify_stream
from exporters.fold import Event, Item, Message, Row, fold_items

_SPOOL_BYTES = 8 * 1024 * 1024
_CHUNK = 1024 * 1024


class NotFoundError(LookupError):
    """The conversation, bundle or file is not in the archive."""


@dataclass(frozen=True, slots=True)
class BundleSummary:
    """One sealed bundle as its (signature-checked) manifest describes it."""

    number: int
    created_at: str
    record_count: int
    conversations: tuple[str, ...]
    manifest_sha256: str
    problems: tuple[str, ...]


@dataclass(frozen=True, slots=True)
class ConversationRef:
    platform: str
    workspace: str
    conversation: str

    @classmethod
    def parse(cls, text: str) -> ConversationRef:
        platform, _, rest = text.partition(":")
        workspace, _, conversation = rest.partition(":")
        return cls(platform, workspace, conversation)

    def __str__(self) -> str:
        return f"{self.platform}:{self.workspace}:{self.conversation}"


@dataclass
class ConversationView:
    """A conversation folded for reading: top-level items with their thread replies."""

    ref: ConversationRef
    name: str | None = None
    items: list[Item] = field(default_factory=list)
    replies: dict[str, list[Message]] = field(default_factory=dict)
    bundles: list[int] = field(default_factory=list)
    records: int = 0

    def attachment(self, sha256: str) -> Attachment | None:
        """The stored attachment with this hash, from any message of the conversation."""
        messages = [i for i in self.items if isinstance(i, Message)]
        messages += [m for replies in self.replies.values() for m in replies]
        for message in messages:
            for attachment in message.attachments:
                if attachment.sha256 == sha256 and attachment.state is AttachmentState.STORED:
                    return attachment
        return None


class ArchiveView:
    """Verified, read-only access to one stream of the sealed archive."""

    def __init__(
        self,
        store: ArchiveStore,
        layout: Layout,
        keys: dict[str, PublicKey],
        trust: str,
        *,
        cached_conversations: int = 0,
    ) -> None:
        self.store = store
        self.layout = layout
        self.keys = keys
        self.trust = trust
        self._cache: OrderedDict[tuple[str, tuple[tuple[int, str], ...]], ConversationView] = (
            OrderedDict()
        )
        self._cache_size = cached_conversations
        self._cache_lock = threading.Lock()

    # -- manifests ------------------------------------------------------------------
    def bundles(self) -> list[BundleSummary]:
        """Every manifest, its signature and chain link checked, ascending."""
        originals: dict[int, Any] = {}
        for version in self.store.versions(self.layout.bundles_prefix):
            parsed = self.layout.parse_bundle_key(version.key)
            if parsed is None or parsed[1] != "manifest.json" or version.is_delete_marker:
                continue
            originals.setdefault(parsed[0], []).append(version)
        summaries: list[BundleSummary] = []
        previous: str | None = None
        for number in sorted(originals):
            first = original_version(originals[number])
            assert first is not None
            data = self.store.get(first.key, first.version_id)
            doc, problems = check_manifest(data, number, self.layout.stream, previous, self.keys)
            if summaries and summaries[-1].number != number - 1:
                problems.append(f"bundles {summaries[-1].number + 1}..{number - 1} are missing")
            previous = hashlib.sha256(data).hexdigest()
            doc = doc or {}
            summaries.append(
                BundleSummary(
                    number=number,
                    created_at=str(doc.get("created_at", "")),
                    record_count=int(doc.get("record_count", 0)),
                    conversations=tuple(doc.get("conversations", ())),
                    manifest_sha256=previous,
                    problems=tuple(problems),
                )
            )
        return summaries

    def conversations(self) -> list[tuple[ConversationRef, int]]:
        """Every conversation in the archive with the number of bundles holding it."""
        counts: dict[str, int] = {}
        for bundle in self.bundles():
            for name in bundle.conversations:
                counts[name] = counts.get(name, 0) + 1
        return [(ConversationRef.parse(name), n) for name, n in sorted(counts.items())]

    # -- records ----------------------------------------------------------------------
    def records(
        self, wanted: ConversationRef, numbers: list[int] | None = None
    ) -> Iterator[tuple[Record, int]]:
        """The verified records of one conversation with their bundle numbers, in seq order."""
        if numbers is None:
            name = str(wanted)
            numbers = [b.number for b in self.bundles() if name in b.conversations]
        for low, high in consecutive_runs(numbers):
            for bundle, records in read_bundles(
                self.store, self.layout, self.keys, first=low, last=high
            ):
                for record in records:
                    if (
                        record.conversation == wanted.conversation
                        and record.workspace == wanted.workspace
                        and record.platform.value == wanted.platform
                    ):
                        yield record, bundle.number

    def conversation(self, ref: ConversationRef) -> ConversationView:
        """The folded conversation; NotFoundError if no sealed bundle holds it.

        The manifests are listed and checked on every call. With a cache, a conversation
        read before is reused only if the same manifests (by SHA-256) still hold it: the
        records objects they name are the locked original versions, verified when read.
        """
        held = [b for b in self.bundles() if str(ref) in b.conversations]
        key = (str(ref), tuple((b.number, b.manifest_sha256) for b in held))
        for bundle in held:
            if bundle.problems:
                raise IntegrityError(
                    f"bundle {bundle.number} failed verification: {'; '.join(bundle.problems)}"
                )
        with self._cache_lock:
            cached = self._cache.get(key)
            if cached is not None:
                self._cache.move_to_end(key)
                return cached
        view = self._read_conversation(ref, [b.number for b in held])
        if self._cache_size > 0:
            with self._cache_lock:
                self._cache[key] = view
                while len(self._cache) > self._cache_size:
                    self._cache.popitem(last=False)
        return view

    def _read_conversation(self, ref: ConversationRef, numbers: list[int]) -> ConversationView:
        view = ConversationView(ref)
        groups: dict[str, list[Row]] = {}
        slots: list[list[Row]] = []
        for record, number in self.records(ref, numbers):
            view.records += 1
            if number not in view.bundles:
                view.bundles.append(number)
            view.name = record.conversation_name or view.name
            target = target_of(record)
            row = Row(record, target, number, True)
            if target is None:
                slots.append([row])
            elif target in groups:
                groups[target].append(row)
            else:
                groups[target] = [row]
                slots.append(groups[target])
        if not view.records:
            raise NotFoundError(f"conversation {ref} is not in the sealed archive")
        items = list(fold_items(row for slot in slots for row in slot))
        ids = {i.message_id for i in items if isinstance(i, Message)}
        for item in items:
            parent = item.parent_id if isinstance(item, Message) else None
            if isinstance(item, Message) and parent is not None and parent in ids:
                view.replies.setdefault(parent, []).append(item)
            else:
                view.items.append(item)
        return view

    def officer_actions(self, ref: ConversationRef) -> list[Record]:
        """The sealed officer_action records, newest first."""
        found = [r for r, _ in self.records(ref) if r.kind is Kind.OFFICER_ACTION]
        return sorted(found, key=lambda r: r.seq or 0, reverse=True)

    # -- blobs ---------------------------------------------------------------------------
    def open_blob(self, sha256: str) -> IO[bytes]:
        """The blob's original version, spooled and its SHA-256 checked before it is returned."""
        key = self.layout.blob_key(sha256)
        version = original_version([v for v in self.store.versions(key) if v.key == key])
        if version is None:
            raise NotFoundError(f"blob {sha256} is not in the store")
        spool: IO[bytes] = tempfile.SpooledTemporaryFile(max_size=_SPOOL_BYTES)  # noqa: SIM115
        digest = hashlib.sha256()
        try:
            with self.store.open(key, version.version_id) as source:
                while chunk := source.read(_CHUNK):
                    digest.update(chunk)
                    spool.write(chunk)
            if digest.hexdigest() != sha256:
                raise IntegrityError(f"blob {sha256} does not match its hash: not served")
        except BaseException:
            spool.close()
            raise
        spool.seek(0)
        return spool

    # -- verification ----------------------------------------------------------------------
    def verify(self) -> VerifyReport:
        """The whole stream checked as ``chatkeeper verify`` does (not deep)."""
        return verify_stream(self.store, self.layout, self.keys, trust=self.trust)


def is_event(item: Item) -> bool:
    return isinstance(item, Event)
