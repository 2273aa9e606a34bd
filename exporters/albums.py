"""Telegram albums as one message, for the formats people read (HTML, EML, RSMF).

Telegram sends each photo of an album as its own message sharing a
``media_group_id``; a reader sees one message with several files.
"""

from __future__ import annotations

from collections.abc import Iterable, Iterator

from exporters.fold import Item, Message


def albums(items: Iterable[Item]) -> Iterator[Item]:
    """Items with each Telegram album (consecutive messages of one sender sharing a
    ``media_group_id``) folded into its first message: every file, the captions joined."""
    pending: Message | None = None
    for item in items:
        if (
            pending is not None
            and isinstance(item, Message)
            and item.media_group is not None
            and item.media_group == pending.media_group
            and (item.actor.id if item.actor else None)
            == (pending.actor.id if pending.actor else None)
        ):
            pending.attachments.extend(item.attachments)
            pending.text = "\n".join(t for t in (pending.text, item.text) if t)
            pending.edits.extend(item.edits)
            pending.deleted = pending.deleted or item.deleted
            for name, actors in item.reactions.items():
                known = pending.reactions.setdefault(name, [])
                known.extend(a for a in actors if all(k.id != a.id for k in known))
            pending.album = (*pending.album, item.message_id)
            pending.verified = pending.verified and item.verified
            continue
        if pending is not None:
            yield pending
            pending = None
        if isinstance(item, Message) and item.media_group is not None:
            pending = item
        else:
            yield item
    if pending is not None:
        yield pending
