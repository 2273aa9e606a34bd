"""The queue's read API for the console and the CLI: filters, pages, highlighting."""

from __future__ import annotations

from collections.abc import Iterator
from datetime import timedelta
from pathlib import Path
from typing import Any

import pytest

from archive.codec import format_time
from archive.errors import ConfigError
from supervision.queue import QueueStore
from supervision.review import ItemFilter, count_items, get_item, highlight_spans, list_items
from tests.supervision.test_report import NOW, T0, _decision, _item


def _variant(n: int, **changes: Any) -> dict[str, Any]:
    return _item(n, T0) | changes


@pytest.fixture
def queue(tmp_path: Path) -> Iterator[QueueStore]:
    """Five items of two policies, two conversations, two authors, queued at different times."""
    q = QueueStore(tmp_path / "q.db")
    hit = {"lexicon": "off_channel", "rule": "whatsapp", "start": 0, "end": 3, "matched": "x"}
    with q.transaction() as conn:
        q.add_items(
            conn,
            [
                _variant(1, hits=[hit]),
                _variant(2, policy="other", conversation="C2"),
                _variant(3, actor_id="U2", actor_name="Analyst", reason="sampled"),
                _variant(4, queued_at=format_time(NOW - timedelta(hours=1))),
                _variant(5),
            ],
        )
        q.add_decisions(conn, [_decision(1, "item5", "cleared", "a", 2)])
        q.add_decisions(
            conn,
            [
                _decision(2, "item3", "needs_follow_up", "a", 1),
                _decision(3, "item2", "escalated", "b", 1),
            ],
        )
        q.add_decisions(
            conn,
            [
                {**_decision(4, "item4", "cleared", "a", 0), "action": "assign",
                 "decision": None, "assignee": "officer-2"},
            ],
        )  # fmt: skip
    yield q
    q.close()


def _ids(queue: QueueStore, **words: Any) -> list[str]:
    return [i["id"] for i in list_items(queue, ItemFilter(**words), NOW)]


def test_filters(queue: QueueStore) -> None:
    """Each filter narrows the open items as the CLI and the console expect."""
    assert _ids(queue) == ["item1", "item3", "item4"]  # oldest first; 2 and 5 are decided
    assert _ids(queue, status="decided") == ["item2", "item5"]
    assert _ids(queue, status="all", policy="other") == ["item2"]
    assert _ids(queue, status="all", conversation="C2") == ["item2"]
    assert _ids(queue, participant="Analyst") == _ids(queue, participant="U2") == ["item3"]
    assert _ids(queue, older_than=timedelta(hours=2)) == ["item1", "item3"]
    assert _ids(queue, assignee="officer-2") == ["item4"]
    assert _ids(queue, assignee="") == ["item1", "item3"]
    assert _ids(queue, reason="sampled") == ["item3"]
    assert _ids(queue, rule="whatsapp") == ["item1"]
    assert _ids(queue, limit=2, offset=1) == ["item3", "item4"]
    assert count_items(queue, ItemFilter(status="all"), NOW) == 5
    with pytest.raises(ConfigError, match="status"):
        _ids(queue, status="closed")


def test_get_item_has_history_and_state(queue: QueueStore) -> None:
    """One item comes with its decisions, latest state and assignee."""
    item = get_item(queue, "item3")
    assert item["decision"] == "needs_follow_up"
    assert [d["id"] for d in item["decisions"]] == ["d2"]
    assert get_item(queue, "item4")["assignee"] == "officer-2"
    with pytest.raises(ConfigError, match="no review item"):
        get_item(queue, "missing")


def test_highlight_spans_merge_overlaps() -> None:
    """Overlapping and adjacent hits become one highlighted piece, the rest stays plain."""
    hits = [{"start": 4, "end": 9}, {"start": 6, "end": 12}, {"start": 21, "end": 25}]
    text = "use whatsapp now, or sms me"
    assert highlight_spans(text, hits) == [
        ("use ", False),
        ("whatsapp", True),
        (" now, or ", False),
        ("sms ", True),
        ("me", False),
    ]
    assert highlight_spans("plain", []) == [("plain", False)]
