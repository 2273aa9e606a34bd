"""Reports for the written supervisory procedures, per policy and period.

The period is of message dates (UTC days, ``start`` inclusive, ``end`` inclusive): of the
messages of the period, how many were in scope, flagged, always-reviewed, sampled; the
sample's share of the unflagged in-scope messages against the rate configured; how many
items were reviewed and how fast (time from queueing, the seal of the message's bundle, to
the first decision: median and 95th percentile, nearest rank); how many were reviewed after
the policy's deadline or are open past it; the open backlog now and its oldest age; and
decisions by outcome and by reviewer.
"""

from __future__ import annotations

import csv
import json
import math
from collections import Counter
from dataclasses import dataclass, field
from datetime import date, datetime
from pathlib import Path
from typing import Any

from archive.codec import parse_time
from supervision.decisions import DECISIONS, NEEDS_FOLLOW_UP
from supervision.queue import QueueStore


def percentile(values: list[float], share: float) -> float | None:
    """Nearest-rank percentile (``share`` 0..1) of ``values``; None when empty."""
    if not values:
        return None
    ordered = sorted(values)
    rank = max(1, math.ceil(share * len(ordered)))
    return ordered[rank - 1]


@dataclass
class PolicyReport:
    policy: str
    versions: list[str] = field(default_factory=list)
    hashes: list[str] = field(default_factory=list)
    sample_rates: list[float] = field(default_factory=list)
    in_scope: int = 0
    flagged: int = 0
    always: int = 0
    sampled: int = 0
    items: int = 0
    reviewed: int = 0
    median_hours: float | None = None
    p95_hours: float | None = None
    reviewed_late: int = 0
    open: int = 0
    open_overdue: int = 0
    oldest_open_hours: float | None = None
    outcomes: Counter[str] = field(default_factory=Counter)
    reviewers: dict[str, Counter[str]] = field(default_factory=dict)

    @property
    def sample_share(self) -> float | None:
        base = self.in_scope - self.flagged - self.always
        return self.sampled / base if base > 0 else None

    @property
    def expected_sample(self) -> str:
        """The sample the lowest configured rate would give on average (a binomial mean)."""
        if not self.sample_rates:
            return ""
        base = max(0, self.in_scope - self.flagged - self.always)
        return f"{min(self.sample_rates) * base:.1f}"

    def row(self) -> dict[str, Any]:
        share = self.sample_share
        return {
            "policy": self.policy,
            "versions": " ".join(self.versions),
            "policy_hashes": " ".join(self.hashes),
            "sample_rate_configured": " ".join(f"{r:g}" for r in self.sample_rates),
            "in_scope": self.in_scope,
            "flagged": self.flagged,
            "always_review": self.always,
            "sampled": self.sampled,
            "sample_share": "" if share is None else f"{share:.4f}",
            "sample_expected": self.expected_sample,
            "items": self.items,
            "reviewed": self.reviewed,
            "median_hours_to_review": _hours(self.median_hours),
            "p95_hours_to_review": _hours(self.p95_hours),
            "reviewed_after_deadline": self.reviewed_late,
            "open": self.open,
            "open_past_deadline": self.open_overdue,
            "oldest_open_hours": _hours(self.oldest_open_hours),
            **{f"decisions_{d}": self.outcomes.get(d, 0) for d in DECISIONS},
        }


def _hours(value: float | None) -> str:
    return "" if value is None else f"{value:.2f}"


def _deadline(item: dict[str, Any]) -> float | None:
    days = float(item["review_within_days"] or 0)
    return days * 24 if days > 0 else None


def build_report(queue: QueueStore, start: date, end: date, now: datetime) -> list[PolicyReport]:
    """One report per policy that had messages in scope or items in the period."""
    first, last = start.isoformat(), end.isoformat()
    reports: dict[str, PolicyReport] = {}
    for row in queue.query(
        "SELECT c.policy, c.policy_hash, p.version, p.document, sum(in_scope), sum(flagged), "
        "sum(always), sum(sampled) FROM counts c LEFT JOIN policies p ON p.hash = c.policy_hash "
        "WHERE day >= ? AND day <= ? GROUP BY c.policy, c.policy_hash ORDER BY c.policy",
        (first, last),
    ):
        report = reports.setdefault(row[0], PolicyReport(row[0]))
        report.hashes.append(row[1])
        if row[2] is not None and row[2] not in report.versions:
            report.versions.append(row[2])
        rate = json.loads(row[3])["policy"].get("sampling", {}).get("rate", 0) if row[3] else 0
        if float(rate) not in report.sample_rates:
            report.sample_rates.append(float(rate))
        report.in_scope += row[4]
        report.flagged += row[5]
        report.always += row[6]
        report.sampled += row[7]
    items = queue.query(
        "SELECT id, policy, queued_at, review_within_days FROM items "
        "WHERE substr(occurred_at, 1, 10) >= ? AND substr(occurred_at, 1, 10) <= ?",
        (first, last),
    )
    decisions: dict[str, list[Any]] = {}
    for d in queue.query(
        "SELECT d.item, d.decision, d.reviewer, d.decided_at FROM decisions d JOIN items i "
        "ON i.id = d.item WHERE d.action = 'decide' AND substr(i.occurred_at, 1, 10) >= ? "
        "AND substr(i.occurred_at, 1, 10) <= ? ORDER BY d.decided_at, d.id",
        (first, last),
    ):
        decisions.setdefault(d[0], []).append(d)
    waits: dict[str, list[float]] = {}
    for item in items:
        report = reports.setdefault(item["policy"], PolicyReport(item["policy"]))
        report.items += 1
        queued = parse_time(item["queued_at"])
        deadline = _deadline(dict(item))
        made = decisions.get(item["id"], [])
        for d in made:
            report.outcomes[d[1]] += 1
            report.reviewers.setdefault(d[2], Counter())[d[1]] += 1
        if made:
            report.reviewed += 1
            hours = (parse_time(made[0][3]) - queued).total_seconds() / 3600
            waits.setdefault(item["policy"], []).append(hours)
            if deadline is not None and hours > deadline:
                report.reviewed_late += 1
        if not made or made[-1][1] == NEEDS_FOLLOW_UP:
            age = (now - queued).total_seconds() / 3600
            report.open += 1
            report.oldest_open_hours = max(report.oldest_open_hours or 0.0, age)
            if deadline is not None and age > deadline and not made:
                report.open_overdue += 1
    for name, values in waits.items():
        reports[name].median_hours = percentile(values, 0.5)
        reports[name].p95_hours = percentile(values, 0.95)
    return [reports[name] for name in sorted(reports)]


def write_csv(reports: list[PolicyReport], path: Path) -> None:
    """One row per policy (columns as ``PolicyReport.row``)."""
    rows = [r.row() for r in reports]
    columns = list(PolicyReport("").row())
    with path.open("w", newline="", encoding="utf-8") as out:
        writer = csv.DictWriter(out, fieldnames=columns)
        writer.writeheader()
        writer.writerows(rows)


def write_reviewers_csv(reports: list[PolicyReport], path: Path) -> None:
    """One row per policy and reviewer: decisions by outcome."""
    with path.open("w", newline="", encoding="utf-8") as out:
        writer = csv.writer(out)
        writer.writerow(["policy", "reviewer", *DECISIONS, "total"])
        for report in reports:
            for reviewer in sorted(report.reviewers):
                counts = report.reviewers[reviewer]
                writer.writerow(
                    [
                        report.policy,
                        reviewer,
                        *(counts.get(d, 0) for d in DECISIONS),
                        sum(counts.values()),
                    ]
                )
