"""What every folded format gets: the partitioned records, the output, the bundles read."""

from __future__ import annotations

from collections.abc import Callable, Iterator
from dataclasses import dataclass, replace

from archive.model import Platform
from exporters.albums import albums
from exporters.filters import Filters
from exporters.fold import Item
from exporters.output import OutputDir
from exporters.partition import Conversation, PartitionStore
from exporters.slack_markup import readable
from exporters.source import BlobSource, BundleInfo


@dataclass(frozen=True)
class RenderContext:
    store: PartitionStore
    out: OutputDir
    filters: Filters
    bundles: tuple[BundleInfo, ...]
    blobs: BlobSource
    generator: str
    only: frozenset[int] | None = None
    stream_problems: tuple[str, ...] = ()

    def conversations(self) -> list[Conversation]:
        """The conversations this renderer handles (all, or one worker's share)."""
        every = self.store.conversations()
        return every if self.only is None else [c for c in every if c.number in self.only]

    def share(self, numbers: frozenset[int]) -> RenderContext:
        return replace(self, only=numbers)

    @property
    def verified(self) -> bool:
        """Every bundle read passed, and so did the stream-level checks."""
        return not self.stream_problems and all(b.verified for b in self.bundles)

    def items(self, conversation: Conversation, number: int) -> Iterator[Item]:
        """The folded items of one slice that pass the filters."""
        items = self.store.items(conversation, number)
        if self.filters.keeps_every_item():
            return items
        keep = self.filters.keep_item
        return (item for item in items if keep(item))

    def readable_items(self, conversation: Conversation, number: int) -> Iterator[Item]:
        """``items`` with Telegram albums as one message (for the formats people read)."""
        return albums(self.items(conversation, number))

    def reader(self, conversation: Conversation) -> Callable[[str], str]:
        """How text of ``conversation`` reads for people (Slack markup decoded, names filled)."""
        if conversation.platform is not Platform.SLACK:
            return _same
        store = self.store

        def user(user_id: str) -> str | None:
            return store.name_of(conversation, user_id)

        def channel(channel_id: str) -> str | None:
            return store.conversation_name(conversation, channel_id)

        def text(value: str) -> str:
            return readable(value, user, channel)

        return text

    def verification_line(self) -> str:
        found = len(self.stream_problems)
        stream = (
            f"the stream failed verification ({found} finding(s), listed in export-manifest.json)"
            if found
            else ""
        )
        if not self.bundles:
            return (
                f"UNVERIFIED: no sealed bundles matched; {stream}."
                if stream
                else ("No sealed bundles matched.")
            )
        numbers = [b.number for b in self.bundles]
        span = (
            f"bundles {min(numbers)}-{max(numbers)}" if len(numbers) > 1 else f"bundle {numbers[0]}"
        )
        if self.verified:
            return f"Verified: {span}, every bundle checked against its signed manifest."
        bad = ", ".join(str(b.number) for b in self.bundles if not b.verified)
        reasons = [f"bundle(s) {bad} failed verification"] if bad else []
        reasons += [stream] if stream else []
        return f"UNVERIFIED: {span} read with --allow-unverified; {'; '.join(reasons)}."


def _same(value: str) -> str:
    return value
