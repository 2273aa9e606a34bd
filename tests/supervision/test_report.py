"""Supervision reports computed on known queue data, and their CSV."""

from __future__ import annotations

import csv
import json
from datetime import UTC, date, datetime, timedelta
from pathlib import Path
from typing import Any

from archive.codec import format_time
from supervision.queue import QueueStore
from supervision.report import build_report, percentile, write_csv, write_reviewers_csv

T0 = datetime(2026, 11, 2, 12, 0, tzinfo=UTC)
NOW = T0 + timedelta(days=3)


def _item(n: int, occurred: datetime) -> dict[str, Any]:
    return {
        "id": f"item{n}", "policy": "desk", "policy_version": "1", "policy_hash": "h1",
        "reason": "flagged", "record_key": f"{n:064d}", "seq": n, "bundle": 1,
        "platform": "slack", "workspace": "T1", "conversation": "C1",
        "conversation_name": "deals", "actor_id": "U1", "actor_name": "Trader", "kind": "message",
        "occurred_at": format_time(occurred), "queued_at": format_time(T0), "text": "x",
        "hits": [], "context_before": [], "context_after": [], "after_needed": 0,
        "assignee": None, "review_within_days": 1.0,
    }  # fmt: skip


def _decision(n: int, item: str, decision: str, reviewer: str, hours: float) -> dict[str, Any]:
    return {
        "id": f"d{n}", "item": item, "action": "decide", "decision": decision,
        "assignee": None, "reviewer": reviewer, "comment": "c", "policy_hash": "h1",
        "decided_at": format_time(T0 + timedelta(hours=hours)), "supersedes": None,
        "record_key": f"{n:064x}", "bundle": 2,
    }  # fmt: skip


def _queue(tmp_path: Path) -> QueueStore:
    queue = QueueStore(tmp_path / "q.db")
    with queue.transaction() as conn:
        doc = json.dumps({"policy": {"sampling": {"rate": 0.02}}, "packs": {}}).encode()
        queue.add_policy(conn, "h1", "desk", "1", doc)
        queue.add_counts(
            conn,
            {
                ("desk", "h1", "2026-11-02"): [1000, 20, 0, 20],
                ("desk", "h1", "2026-11-03"): [500, 10, 0, 9],
                ("desk", "h1", "2026-11-10"): [100, 5, 0, 2],  # outside the period
            },
        )
        queue.add_items(conn, [_item(n, T0) for n in range(1, 5)])
        queue.add_items(conn, [_item(9, T0 + timedelta(days=8))])  # outside the period
        queue.add_decisions(
            conn,
            [
                _decision(1, "item1", "cleared", "a", 1),
                _decision(2, "item2", "escalated", "b", 3),
                _decision(3, "item3", "needs_follow_up", "a", 30),
                _decision(9, "item9", "cleared", "a", 200),
            ],
        )
    return queue


def test_report_on_known_data(tmp_path: Path) -> None:
    """Counts, sample share, review times, deadlines, backlog and decisions come out exact."""
    with _queue(tmp_path) as queue:
        (report,) = build_report(queue, date(2026, 11, 1), date(2026, 11, 5), NOW)
    assert (report.in_scope, report.flagged, report.sampled) == (1500, 30, 29)
    assert report.sample_share == 29 / 1470 and report.sample_rates == [0.02]
    assert (report.items, report.reviewed) == (4, 3)
    assert (report.median_hours, report.p95_hours) == (3.0, 30.0)
    assert report.reviewed_late == 1  # item3: 30 h against a 1-day deadline
    assert (report.open, report.open_overdue) == (2, 1)  # item3 follow-up, item4 never seen
    assert report.oldest_open_hours == 72.0
    assert dict(report.outcomes) == {"cleared": 1, "escalated": 1, "needs_follow_up": 1}
    assert {k: dict(v) for k, v in report.reviewers.items()} == {
        "a": {"cleared": 1, "needs_follow_up": 1},
        "b": {"escalated": 1},
    }


def test_report_csv(tmp_path: Path) -> None:
    """The CSV holds one row per policy and one per policy and reviewer."""
    with _queue(tmp_path) as queue:
        reports = build_report(queue, date(2026, 11, 1), date(2026, 11, 5), NOW)
    write_csv(reports, tmp_path / "r.csv")
    write_reviewers_csv(reports, tmp_path / "rv.csv")
    (row,) = csv.DictReader((tmp_path / "r.csv").open(encoding="utf-8"))
    assert row["policy"] == "desk" and row["sample_share"] == "0.0197"
    assert row["sample_expected"] == "29.4"  # 2% of the 1470 unflagged
    assert row["median_hours_to_review"] == "3.00" and row["p95_hours_to_review"] == "30.00"
    assert row["open"] == "2" and row["decisions_cleared"] == "1"
    rows = list(csv.reader((tmp_path / "rv.csv").open(encoding="utf-8")))
    assert rows == [
        ["policy", "reviewer", "cleared", "escalated", "needs_follow_up", "total"],
        ["desk", "a", "1", "0", "1", "2"],
        ["desk", "b", "0", "1", "0", "1"],
    ]


def test_percentile_nearest_rank() -> None:
    """Nearest-rank percentiles, as the report documents them."""
    assert percentile([], 0.5) is None
    assert percentile([5.0], 0.95) == 5.0
    assert percentile([float(n) for n in range(1, 101)], 0.95) == 95.0
    assert percentile([4.0, 1.0, 3.0, 2.0], 0.5) == 2.0
