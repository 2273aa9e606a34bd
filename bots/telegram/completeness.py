"""Completeness: ``message_id`` gaps in supergroups and channels.

There the chat numbers its messages 1, 2, 3...; an id between the first and
the last one we hold that no record carries is a message chatkeeper never saw:
sent while the bot was out, deleted before delivery, hidden by privacy mode,
sent by another bot, or a reply the bot sent itself (Telegram does not deliver
a bot's own messages back to it). Private chats and basic groups have no
shared numbering and are not checked.
"""

from __future__ import annotations

import itertools
from collections import defaultdict
from collections.abc import Iterable
from dataclasses import dataclass

from archive.journal import RecordLog
from archive.model import Kind, Platform, Record
from bots.telegram.keys import is_channel_id

# Records that prove a message with that id existed.
_MESSAGE_KINDS = {
    Kind.MESSAGE,
    Kind.EDIT,
    Kind.MEMBER_JOINED,
    Kind.MEMBER_LEFT,
    Kind.CONVERSATION_RENAMED,
    Kind.PIN_ADDED,
    Kind.OTHER,
}


@dataclass(frozen=True)
class ChatGaps:
    conversation: str
    name: str | None
    first: int
    last: int
    seen: int
    missing: int
    ranges: tuple[tuple[int, int], ...]  # inclusive ranges of missing ids


def _is_message(record: Record) -> bool:
    if record.kind not in _MESSAGE_KINDS or record.message_id is None:
        return False
    if record.kind is Kind.OTHER:  # service messages only, not reaction counts etc.
        return "service" in record.details or record.details.get("type") == "service"
    return record.message_id.isdigit()


def _ranges(ids: list[int]) -> list[tuple[int, int]]:
    gaps = []
    for before, after in itertools.pairwise(ids):
        if after - before > 1:
            gaps.append((before + 1, after - 1))
    return gaps


def journal_gaps(journal: RecordLog) -> list[ChatGaps]:
    """Gaps per supergroup/channel in the journal, reading only its Telegram message records."""
    return message_gaps(journal.find_records(Platform.TELEGRAM.value, kinds=_MESSAGE_KINDS))


def message_gaps(records: Iterable[Record]) -> list[ChatGaps]:
    """Gaps per supergroup/channel, from every Telegram record (live and imported)."""
    seen: dict[str, set[int]] = defaultdict(set)
    names: dict[str, str | None] = {}
    for record in records:
        if record.platform is not Platform.TELEGRAM or not _is_message(record):
            continue
        try:
            chat_id = int(record.conversation)
        except ValueError:
            continue
        if not is_channel_id(chat_id):
            continue
        assert record.message_id is not None
        seen[record.conversation].add(int(record.message_id))
        names[record.conversation] = record.conversation_name or names.get(record.conversation)
    report = []
    for conversation, found in sorted(seen.items()):
        ids = sorted(found)
        ranges = _ranges(ids)
        report.append(
            ChatGaps(
                conversation=conversation,
                name=names.get(conversation),
                first=ids[0],
                last=ids[-1],
                seen=len(ids),
                missing=sum(b - a + 1 for a, b in ranges),
                ranges=tuple(ranges),
            )
        )
    return report
