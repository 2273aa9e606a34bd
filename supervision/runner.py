"""Incremental screening of newly sealed bundles into the review queue.

``screen_sealed`` reads every bundle after the queue's last screened one through
``archive.read.read_bundles`` (each manifest's signature and chain link, each records
object's hash, size and Merkle root are checked before a record is used; a bundle that fails
stops screening with IntegrityError), screens its records, and commits per bundle, in one
transaction: the items, the day counts, the sealed review decisions it holds, the
conversation context, and the new last bundle. A bundle is screened exactly once, also with
several screeners: the transaction checks that the bundle is still the next one.

Screening reads sealed records directly rather than the search index: it needs every record
exactly once, in order, verified, which a bundle walk gives and an index built for queries
does not.
"""

from __future__ import annotations

import hashlib
import json
from collections import deque
from collections.abc import Iterable
from dataclasses import dataclass, field
from datetime import UTC, date
from typing import Any

import structlog

from archive.bundle import Layout
from archive.codec import format_time
from archive.keys import PublicKey
from archive.model import Kind, Record
from archive.read import read_bundles
from archive.store import ArchiveStore
from supervision.decisions import decision_from_record
from supervision.queue import QueueStore
from supervision.screen import ALWAYS, FLAGGED, SAMPLED, Screener, screened_text

log = structlog.get_logger("chatkeeper.supervision")
_CONTEXT_KINDS = frozenset({Kind.MESSAGE, Kind.EDIT})


def item_id(policy: str, record_key: str) -> str:
    """The item of a record under a policy: the same on every rebuild."""
    return hashlib.sha256(f"{policy}\n{record_key}".encode()).hexdigest()[:20]


def conversation_key(platform: str, workspace: str, conversation: str) -> str:
    return f"{platform}\x1f{workspace}\x1f{conversation}"


def _snapshot(record: Record | dict[str, Any]) -> dict[str, Any]:
    if isinstance(record, dict):
        return record
    return {
        "key": record.key,
        "kind": record.kind.value,
        "actor": record.actor.name or record.actor.id if record.actor else None,
        "occurred_at": format_time(record.occurred_at),
        "text": screened_text(record),
    }


@dataclass
class ScreenReport:
    bundles: list[int] = field(default_factory=list)
    records: int = 0
    in_scope: int = 0
    items: int = 0
    decisions: int = 0


@dataclass
class _Bundle:
    number: int
    queued_at: str
    items: list[dict[str, Any]] = field(default_factory=list)
    counts: dict[tuple[str, str, date], list[int]] = field(default_factory=dict)
    decisions: list[dict[str, Any]] = field(default_factory=list)
    touched: dict[str, tuple[str, list[Any], int]] = field(default_factory=dict)
    conversations: set[str] = field(default_factory=set)  # whose tails changed


class _Context:
    """The last messages of each conversation, and items still waiting for what follows."""

    def __init__(self, queue: QueueStore, size: int) -> None:
        self.size = size
        # snapshots (dicts) from the queue, or records seen in this run (made dicts on use)
        self.tails: dict[str, deque[dict[str, Any] | Record]] = {
            k: deque(v, maxlen=size) for k, v in queue.tails().items()
        }
        self.waiting: dict[str, list[list[Any]]] = {}
        for row in queue.waiting_for_context():
            key = conversation_key(row["platform"], row["workspace"], row["conversation"])
            entry = [row["id"], json.loads(row["context_after"]), row["after_needed"]]
            self.waiting.setdefault(key, []).append(entry)

    def before(self, key: str) -> list[dict[str, Any]]:
        return [_snapshot(m) for m in self.tails.get(key, ())]

    def saved_tails(self, keys: set[str]) -> dict[str, list[dict[str, Any]]]:
        return {k: [_snapshot(m) for m in self.tails[k]] for k in keys if k in self.tails}

    def see(self, key: str, record: Record, batch: _Bundle) -> None:
        waiting = self.waiting.get(key)
        if waiting:
            snapshot = _snapshot(record)
            for entry in waiting:
                entry[1].append(snapshot)
                entry[2] -= 1
                batch.touched[entry[0]] = (entry[0], list(entry[1]), entry[2])
            self.waiting[key] = [e for e in waiting if e[2] > 0]
        if self.size:
            tail = self.tails.get(key)
            if tail is None:
                tail = self.tails[key] = deque(maxlen=self.size)
            tail.append(record)
            batch.conversations.add(key)

    def wait(self, key: str, item: str) -> None:
        if self.size:
            self.waiting.setdefault(key, []).append([item, [], self.size])


def _screen_record(record: Record, screener: Screener, context: _Context, batch: _Bundle) -> int:
    key = conversation_key(record.platform, record.workspace, record.conversation)
    outcomes = screener.screen(record)
    moment = record.occurred_at
    day = (moment if moment.tzinfo is UTC else moment.astimezone(UTC)).date()
    queued: list[str] = []
    for outcome in outcomes:
        policy = outcome.policy
        counts = batch.counts.setdefault((policy.name, policy.hash, day), [0, 0, 0, 0])
        counts[0] += 1
        if outcome.reason is None:
            continue
        counts[{FLAGGED: 1, ALWAYS: 2, SAMPLED: 3}[outcome.reason]] += 1
        ident = item_id(policy.name, record.key)
        batch.items.append(
            {
                "id": ident,
                "policy": policy.name,
                "policy_version": policy.version,
                "policy_hash": policy.hash,
                "reason": outcome.reason,
                "record_key": record.key,
                "seq": record.seq,
                "bundle": batch.number,
                "platform": record.platform.value,
                "workspace": record.workspace,
                "conversation": record.conversation,
                "conversation_name": record.conversation_name,
                "actor_id": record.actor.id if record.actor else None,
                "actor_name": record.actor.name if record.actor else None,
                "kind": record.kind.value,
                "occurred_at": format_time(record.occurred_at),
                "queued_at": batch.queued_at,
                "text": screened_text(record),
                "hits": [h.to_dict() for h in outcome.hits],
                "context_before": context.before(key),
                "context_after": [],
                "after_needed": context.size,
                "review_within_days": policy.review_within_days,
            }
        )
        queued.append(ident)
    if record.kind in _CONTEXT_KINDS and record.text:
        context.see(key, record, batch)
    for ident in queued:
        context.wait(key, ident)
    return len(outcomes)


def _commit(queue: QueueStore, screener: Screener, batch: _Bundle, context: _Context) -> bool:
    with queue.transaction() as conn:
        if queue.last_bundle(conn) != batch.number - 1:
            return False  # another screener took this bundle
        for policy in screener.policies:
            queue.add_policy(conn, policy.hash, policy.name, policy.version, policy.document)
        queue.add_items(conn, batch.items)
        queue.add_counts(conn, {(p, h, d.isoformat()): v for (p, h, d), v in batch.counts.items()})
        queue.add_decisions(conn, batch.decisions)
        queue.update_context(conn, list(batch.touched.values()))
        queue.save_tails(conn, context.saved_tails(batch.conversations))
        queue.set_last_bundle(conn, batch.number)
    return True


def screen_sealed(
    store: ArchiveStore,
    layout: Layout,
    keys: dict[str, PublicKey],
    queue: QueueStore,
    screener: Screener,
    *,
    context_messages: int = 3,
) -> ScreenReport:
    """Screen every sealed bundle the queue has not seen yet; verified on read."""
    report = ScreenReport()
    context = _Context(queue, context_messages)
    first = queue.last_bundle() + 1
    bundles: Iterable[tuple[Any, Iterable[Record]]] = read_bundles(store, layout, keys, first=first)
    for bundle, records in bundles:
        batch = _Bundle(bundle.number, str(bundle.manifest.get("created_at", "")))
        for record in records:
            report.records += 1
            if record.kind is Kind.REVIEW_DECISION:
                batch.decisions.append(decision_from_record(record, bundle.number))
                continue
            report.in_scope += _screen_record(record, screener, context, batch)
        if not _commit(queue, screener, batch, context):
            log.info("supervision.screen_skipped", bundle=bundle.number)
            break
        report.bundles.append(bundle.number)
        report.items += len(batch.items)
        report.decisions += len(batch.decisions)
    if report.bundles:
        log.info(
            "supervision.screened",
            bundles=len(report.bundles),
            last_bundle=report.bundles[-1],
            records=report.records,
            items=report.items,
        )
    return report
