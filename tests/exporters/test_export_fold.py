"""Folding records into messages, and partitioning them by conversation and day."""

from __future__ import annotations

from pathlib import Path

from archive.model import AttachmentState, Kind
from exporters.fold import Event, Message
from exporters.partition import PartitionStore
from tests.exporters.export_fixtures import (
    ALICE,
    BOB,
    CAROL,
    DEALS,
    LONG_TEXT,
    TG_GROUP,
    archive_records,
)


def _store(tmp_path: Path) -> PartitionStore:
    store = PartitionStore(tmp_path)
    for record in archive_records():
        store.add(record, (record.seq or 0) // 10 + 1, True)
    store.finish()
    return store


def _message(store: PartitionStore, conversation: str, prefix: str) -> Message:
    """The folded message of ``conversation`` whose text starts with ``prefix``."""
    for conv in store.conversations():
        if conv.conversation == conversation:
            for number in store.slices(conv):
                for item in store.items(conv, number):
                    if isinstance(item, Message) and item.text.startswith(prefix):
                        return item
    raise AssertionError(f"no message starting with {prefix!r}")


def test_edit_history_keeps_who_when_previous_and_new(tmp_path: Path) -> None:
    """Two edits become two history entries; the message shows the last text."""
    chart = _message(_store(tmp_path), DEALS, "chart for the deck (v3")
    assert chart.text == "chart for the deck (v3)"
    assert [(e.actor, e.previous, e.new) for e in chart.edits] == [
        (ALICE, "chart for the deck", "chart for the deck (v2) <b>bold?</b>"),
        (ALICE, "chart for the deck (v2) <b>bold?</b>", "chart for the deck (v3)"),
    ]
    assert chart.edits[0].at < chart.edits[1].at


def test_deleted_message_keeps_last_known_text(tmp_path: Path) -> None:
    """A deletion marks the message deleted, by whom and when, and keeps its text."""
    deleted = _message(_store(tmp_path), DEALS, "Call me on my persona")
    assert deleted.deleted
    assert deleted.deleted_by == BOB
    assert deleted.text == "Call me on my personal phone instead"


def test_reactions_fold_additions_and_removals(tmp_path: Path) -> None:
    """thumbsup twice stays; eyes added then removed disappears."""
    price = _message(_store(tmp_path), DEALS, "Price is 101.25, firm")
    assert price.reactions == {"thumbsup": [ALICE, CAROL]}


def test_next_day_edit_folds_into_the_original_day(tmp_path: Path) -> None:
    """An edit made the next day belongs to the message's own day slice."""
    store = _store(tmp_path)
    deals = next(c for c in store.conversations() if c.conversation == DEALS)
    first_day = list(store.items(deals, store.slices(deals)[0]))
    morning = next(i for i in first_day if isinstance(i, Message) and i.text.startswith("Morning"))
    assert morning.text == "Morning all 👋 — term sheet v3 attached"
    assert morning.attachments[0].state is AttachmentState.STORED
    second_day = list(store.items(deals, store.slices(deals)[1]))
    assert [i.text for i in second_day if isinstance(i, Message)] == [
        "Following up on yesterday's price"
    ]


def test_threads_joins_and_leaves_are_kept(tmp_path: Path) -> None:
    """Replies name their parent; joins and leaves are events in time order."""
    store = _store(tmp_path)
    deals = next(c for c in store.conversations() if c.conversation == DEALS)
    items = list(store.items(deals, store.slices(deals)[0]))
    kinds = [i.kind for i in items if isinstance(i, Event)]
    assert kinds == [Kind.MONITORING_CHANGED, Kind.MEMBER_JOINED, Kind.MEMBER_LEFT]
    price = next(i for i in items if isinstance(i, Message) and i.text.startswith("Price"))
    replies = [i for i in items if isinstance(i, Message) and i.parent_id == price.message_id]
    assert [r.actor for r in replies] == [CAROL, CAROL]
    assert any(isinstance(i, Message) and i.text == LONG_TEXT for i in items)
    times = [i.occurred_at for i in items]
    assert times == sorted(times)


def test_edit_of_unarchived_message_becomes_an_orphan(tmp_path: Path) -> None:
    """An edit of a message the archive never saw keeps both texts and is flagged."""
    orphan = _message(_store(tmp_path), TG_GROUP, "corrected figure: 42")
    assert orphan.orphan
    assert [(e.previous, e.new) for e in orphan.edits] == [
        ("wrong figure: 24", "corrected figure: 42")
    ]


def test_conversations_are_listed_with_type(tmp_path: Path) -> None:
    """Slack DMs and Telegram private chats are direct; the rest are channels."""
    store = _store(tmp_path)
    listed = {c.conversation: (c.display, c.is_direct) for c in store.conversations()}
    assert listed == {
        "C0DEALS01": ("deals", False),
        "C0QUIET01": ("quiet-room", False),
        "D0DM00001": ("D0DM00001", True),
        TG_GROUP: ("Desk Chat 🇫🇷", False),
    }


def test_telegram_reaction_changes_replace_a_users_reaction() -> None:
    """Telegram's added/removed lists: 👍 replaced by 🔥 leaves only 🔥 for that user."""
    from dataclasses import replace

    from exporters.fold import Row, fold_items
    from tests.exporters.export_fixtures import TG_IVAN, TG_NOA

    records = [r for r in archive_records() if r.conversation == TG_GROUP]
    message = next(r for r in records if r.kind is Kind.MESSAGE and r.actor == TG_IVAN)
    react = next(r for r in records if r.kind is Kind.REACTION_ADDED)
    first = replace(react, details={"added": ["👍"], "removed": []})
    change = replace(react, details={"added": ["🔥"], "removed": ["👍"]}, seq=90)
    other = replace(react, actor=TG_IVAN, details={"added": ["👍"], "removed": []}, seq=91)
    rows = [Row(r, message.message_id, 3, True) for r in (message, first, change, other)]
    [folded] = list(fold_items(rows))
    assert isinstance(folded, Message)
    assert folded.reactions == {"🔥": [TG_NOA], "👍": [TG_IVAN]}


def test_member_added_by_someone_else_names_both(tmp_path: Path) -> None:
    """A Telegram join performed by another user keeps who joined and who added them."""
    from tests.exporters.export_fixtures import TG_IVAN, TG_NOA

    store = _store(tmp_path)
    group = next(c for c in store.conversations() if c.conversation == TG_GROUP)
    [join] = [i for i in store.items(group, store.slices(group)[0]) if isinstance(i, Event)]
    assert join.kind is Kind.MEMBER_JOINED
    assert join.actor == TG_IVAN
    assert join.member is not None and join.member.id == TG_NOA.id
