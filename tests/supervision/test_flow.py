"""Screening sealed bundles into the queue, decisions sealed as records, rebuild, the hook.

Real parts: the SQLite journal, sealing to SeaweedFS with Object Lock, verified reads.
"""

from __future__ import annotations

import hashlib
import io
import json
import secrets
from datetime import timedelta
from pathlib import Path
from unittest import mock

import pytest
import zstandard

from archive.bundle import iter_lines
from archive.clock import FixedClock
from archive.errors import IntegrityError, StoreUnavailableError
from archive.journal.sqlite import SqliteJournal
from archive.keys import PublicKey, Signer
from archive.model import Kind, Platform
from archive.read import read_bundles
from archive.schedule import SealJob
from archive.seal import SealPolicy, seal
from archive.store.local_s3 import LocalS3
from archive.store.port import Retention
from archive.store.s3 import S3ArchiveStore
from archive.verify import verify_stream
from supervision.decisions import record_decisions
from supervision.hook import AfterSeal
from supervision.packs import SHIPPED
from supervision.policy import parse_policy
from supervision.queue import QueueStore
from supervision.review import ItemFilter, get_item, list_items
from supervision.runner import ScreenReport, screen_sealed
from supervision.screen import Screener
from tests.factories import slack_message
from tests.supervision.corpus import CLEAN, HITS

CONVERSATION = [
    "Morning, the allocation file is in the shared drive",
    "Thanks, looking now",
    "Client wants an answer today",
    "Let's move this to WhatsApp, easier",  # 3: flagged
    "ok, what's your number",
    "same as before",
    "and the fee schedule?",
    "Garantierte Rendite, völlig risikolos",  # 7: flagged
    "noted",
]


def _screener() -> Screener:
    return Screener(
        [
            parse_policy(
                {
                    "name": "desk",
                    "version": "1",
                    "lexicons": ["off_channel", "promissory"],
                    "sampling": {"rate": 0.0, "seed": "s"},
                    "review_within_days": 1,
                }
            )
        ]
    )


def _keys(signer: Signer) -> dict[str, PublicKey]:
    return {signer.public.key_id: signer.public}


def _sealed_conversation(
    journal: SqliteJournal,
    store: S3ArchiveStore,
    signer: Signer,
    policy: SealPolicy,
    clock: FixedClock,
) -> None:
    journal.append([slack_message(n, text=t) for n, t in enumerate(CONVERSATION)])
    seal(journal, store, signer, policy, clock)


def _screen(
    store: S3ArchiveStore, policy: SealPolicy, signer: Signer, queue: QueueStore
) -> ScreenReport:
    return screen_sealed(store, policy.layout, _keys(signer), queue, _screener())


def test_screening_queues_hits_with_positions_and_context(
    journal: SqliteJournal,
    store: S3ArchiveStore,
    signer: Signer,
    policy: SealPolicy,
    clock: FixedClock,
    tmp_path: Path,
) -> None:
    """Sealed messages with hits become items with hit positions and context; once only."""
    _sealed_conversation(journal, store, signer, policy, clock)
    with QueueStore(tmp_path / "q.db") as queue:
        report = _screen(store, policy, signer, queue)
        assert (report.bundles, report.records, report.items) == ([1], 9, 2)
        first, second = list_items(queue, ItemFilter(), clock.now())
        assert first["text"] == CONVERSATION[3]
        hit = first["hits"][0]
        assert first["text"][hit["start"] : hit["end"]] == "WhatsApp"
        assert [m["text"] for m in first["context_before"]] == CONVERSATION[0:3]
        assert [m["text"] for m in first["context_after"]] == CONVERSATION[4:7]
        assert {h["rule"] for h in second["hits"]} == {"guaranteed_return", "no_risk"}
        assert [m["text"] for m in second["context_after"]] == CONVERSATION[8:9]
        assert second["after_needed"] == 2
        assert (first["policy"], first["policy_version"]) == ("desk", "1")
        assert first["policy_hash"] == _screener().policies[0].hash
        counts = queue.query("SELECT sum(in_scope), sum(flagged) FROM counts")[0]
        assert tuple(counts) == (9, 2)
        # incremental: nothing new; the next bundle fills in the waiting context
        assert _screen(store, policy, signer, queue).bundles == []
        journal.append([slack_message(20, text="done, sent it")])
        seal(journal, store, signer, policy, clock)
        assert _screen(store, policy, signer, queue).bundles == [2]
        second = get_item(queue, second["id"])
        assert [m["text"] for m in second["context_after"]] == ["noted", "done, sent it"]
        assert tuple(queue.query("SELECT sum(in_scope) FROM counts")[0]) == (10,)
        # context before comes across bundles (and runs) too
        journal.append([slack_message(21, text="text me at my cell")])
        seal(journal, store, signer, policy, clock)
        assert _screen(store, policy, signer, queue).bundles == [3]
        (third,) = list_items(queue, ItemFilter(rule="personal_phone"), clock.now())
        assert [m["text"] for m in third["context_before"]] == [
            CONVERSATION[7],
            "noted",
            "done, sent it",
        ]


def test_decision_is_a_sealed_verifiable_record(
    journal: SqliteJournal,
    store: S3ArchiveStore,
    signer: Signer,
    policy: SealPolicy,
    clock: FixedClock,
    tmp_path: Path,
) -> None:
    """A decision is captured, sealed like a message, verifies, and is seen back sealed."""
    _sealed_conversation(journal, store, signer, policy, clock)
    with QueueStore(tmp_path / "q.db") as queue:
        _screen(store, policy, signer, queue)
        item = list_items(queue, ItemFilter(), clock.now())[0]
        (row,) = record_decisions(
            journal,
            queue,
            "test",
            [item],
            reviewer="officer-1",
            clock=clock,
            comment="discussed with the trader",
            decision="escalated",
        )
        assert get_item(queue, item["id"])["decisions"][0]["bundle"] is None
        sealed = seal(journal, store, signer, policy, clock)
        assert [b.number for b in sealed.bundles] == [2]
        assert verify_stream(store, policy.layout, _keys(signer)).ok
        records = [
            r for _, rs in read_bundles(store, policy.layout, _keys(signer), first=2) for r in rs
        ]
        (record,) = records
        assert (record.kind, record.platform) == (Kind.REVIEW_DECISION, Platform.CHATKEEPER)
        payload = json.loads(record.raw)
        assert payload["item"] == item["id"] and payload["decision"] == "escalated"
        assert payload["policy_hash"] == item["policy_hash"]
        assert payload["comment"] == "discussed with the trader"
        assert payload["reviewer"] == "officer-1" and payload["decision_id"] == row["id"]
        _screen(store, policy, signer, queue)
        (decided,) = get_item(queue, item["id"])["decisions"]
        assert decided["bundle"] == 2
        assert list_items(queue, ItemFilter(status="decided"), clock.now())[0]["id"] == item["id"]


def test_later_decision_supersedes_and_both_stay(
    journal: SqliteJournal,
    store: S3ArchiveStore,
    signer: Signer,
    policy: SealPolicy,
    clock: FixedClock,
    tmp_path: Path,
) -> None:
    """needs_follow_up keeps an item open; a later decision supersedes it, never edits it."""
    _sealed_conversation(journal, store, signer, policy, clock)
    with QueueStore(tmp_path / "q.db") as queue:
        _screen(store, policy, signer, queue)
        item = list_items(queue, ItemFilter(), clock.now())[0]
        (first,) = record_decisions(
            journal,
            queue,
            "test",
            [item],
            reviewer="a",
            clock=clock,
            comment="ask the trader",
            decision="needs_follow_up",
        )
        assert item["id"] in [i["id"] for i in list_items(queue, ItemFilter(), clock.now())]
        clock.advance(timedelta(minutes=5))
        (second,) = record_decisions(
            journal,
            queue,
            "test",
            [item],
            reviewer="b",
            clock=clock,
            comment="trader confirmed no off-channel use",
            decision="cleared",
        )
        assert second["supersedes"] == first["id"]
        shown = get_item(queue, item["id"])
        assert [d["decision"] for d in shown["decisions"]] == ["needs_follow_up", "cleared"]
        assert shown["decision"] == "cleared"
        assert item["id"] not in [i["id"] for i in list_items(queue, ItemFilter(), clock.now())]


def test_rebuild_restores_items_decisions_and_assignments(
    journal: SqliteJournal,
    store: S3ArchiveStore,
    signer: Signer,
    policy: SealPolicy,
    clock: FixedClock,
    tmp_path: Path,
) -> None:
    """The queue is derived: after a reset, screening the archive restores everything sealed."""
    _sealed_conversation(journal, store, signer, policy, clock)
    with QueueStore(tmp_path / "q.db") as queue:
        _screen(store, policy, signer, queue)
        first, second = list_items(queue, ItemFilter(), clock.now())
        record_decisions(
            journal,
            queue,
            "test",
            [first],
            reviewer="a",
            clock=clock,
            comment="fine",
            decision="cleared",
        )
        record_decisions(
            journal,
            queue,
            "test",
            [second],
            reviewer="a",
            clock=clock,
            comment="",
            assignee="officer-2",
        )
        seal(journal, store, signer, policy, clock)
        before = [get_item(queue, i["id"]) for i in (first, second)]
        queue.reset()
        assert _screen(store, policy, signer, queue).bundles == [1, 2]
        after = [get_item(queue, i["id"]) for i in (first, second)]
        assert [a["decision"] for a in after] == ["cleared", None]
        assert after[1]["assignee"] == "officer-2"
        assert [d["id"] for d in after[0]["decisions"]] == [d["id"] for d in before[0]["decisions"]]


def _tampered(
    store: S3ArchiveStore, local_s3: LocalS3, clock: FixedClock, policy: SealPolicy
) -> S3ArchiveStore:
    name = f"tampered-{secrets.token_hex(5)}"
    local_s3.ensure_bucket(name, mode="COMPLIANCE", days=1)
    copy = S3ArchiveStore(store.client, name)
    retention = Retention("COMPLIANCE", clock.now().replace(microsecond=0) + timedelta(days=1))
    for version in list(store.versions("")):
        data = store.get(version.key, version.version_id)
        if version.key == policy.layout.records_key(1):
            lines = [x.replace(b"WhatsApp", b"the desk") for x in iter_lines(io.BytesIO(data))]
            data = zstandard.ZstdCompressor().compress(b"".join(x + b"\n" for x in lines))
        copy.put(
            version.key, data, sha256_hex=hashlib.sha256(data).hexdigest(), retention=retention
        )
    return copy


def test_tampered_bundle_stops_screening(
    journal: SqliteJournal,
    store: S3ArchiveStore,
    signer: Signer,
    policy: SealPolicy,
    clock: FixedClock,
    tmp_path: Path,
    local_s3: LocalS3,
) -> None:
    """A bundle that fails verification is never screened: IntegrityError, queue unchanged."""
    _sealed_conversation(journal, store, signer, policy, clock)
    copy = _tampered(store, local_s3, clock, policy)
    with QueueStore(tmp_path / "q.db") as queue:
        with pytest.raises(IntegrityError, match="bundle 1"):
            _screen(copy, policy, signer, queue)
        assert queue.last_bundle() == 0
        assert list_items(queue, ItemFilter(status="all"), clock.now()) == []


def test_after_seal_hook_screens_and_never_raises(
    journal: SqliteJournal,
    store: S3ArchiveStore,
    signer: Signer,
    policy: SealPolicy,
    clock: FixedClock,
    tmp_path: Path,
) -> None:
    """The hook screens after a seal with bundles, skips an empty one, and swallows failures."""
    with QueueStore(tmp_path / "q.db") as queue:
        hook = AfterSeal(store, policy.layout, lambda: _keys(signer), queue, _screener())
        empty = seal(journal, store, signer, policy, clock)
        with mock.patch.object(store, "versions", side_effect=AssertionError("read")):
            hook(empty)  # nothing sealed: nothing read
        journal.append([slack_message(n, text=t) for n, t in enumerate(CONVERSATION)])
        journal.append([slack_message(30, text="on Signal?")])
        sealed = seal(journal, store, signer, policy, clock)
        with mock.patch.object(store, "versions", side_effect=StoreUnavailableError("down")):
            hook(sealed)  # logged, not raised
        assert queue.last_bundle() == 0
        caught_up = hook.screen()
        assert caught_up is not None and caught_up.items == 3
        assert queue.last_bundle() == 1


def test_after_seal_hook_without_a_pinned_key_screens_nothing(
    journal: SqliteJournal,
    store: S3ArchiveStore,
    signer: Signer,
    policy: SealPolicy,
    clock: FixedClock,
    tmp_path: Path,
) -> None:
    """No trusted key (IntegrityError from the key look-up): logged, nothing queued."""

    def no_anchor() -> dict[str, PublicKey]:
        raise IntegrityError("no pinned key")

    with QueueStore(tmp_path / "q.db") as queue:
        hook = AfterSeal(store, policy.layout, no_anchor, queue, _screener())
        journal.append([slack_message(n, text=t) for n, t in enumerate(CONVERSATION)])
        hook(seal(journal, store, signer, policy, clock))
        assert queue.last_bundle() == 0
        assert list_items(queue, ItemFilter(status="all"), clock.now()) == []


def test_seal_job_calls_the_hook_after_sealing(
    journal: SqliteJournal,
    store: S3ArchiveStore,
    signer: Signer,
    policy: SealPolicy,
    clock: FixedClock,
    tmp_path: Path,
) -> None:
    """SealJob(after_seal=[hook]) screens right after each seal that wrote bundles."""
    with QueueStore(tmp_path / "q.db") as queue:
        hook = AfterSeal(store, policy.layout, lambda: _keys(signer), queue, _screener())
        job = SealJob(journal, store, signer, policy, clock, after_seal=[hook])
        journal.append([slack_message(n, text=t) for n, t in enumerate(CONVERSATION)])
        report = job()
        assert report is not None and [b.number for b in report.bundles] == [1]
        assert queue.last_bundle() == 1
        assert len(list_items(queue, ItemFilter(), clock.now())) == 2


def test_corpus_through_seal_and_screen(
    journal: SqliteJournal,
    store: S3ArchiveStore,
    signer: Signer,
    policy: SealPolicy,
    clock: FixedClock,
    tmp_path: Path,
) -> None:
    """The multi-language corpus, sealed and screened with every pack: exact items and rules."""
    texts = [t for t, _ in HITS] + CLEAN
    journal.append([slack_message(n, text=t) for n, t in enumerate(texts)])
    seal(journal, store, signer, policy, clock)
    everything = Screener(
        [parse_policy({"name": "all", "version": "1", "lexicons": list(SHIPPED)})]
    )
    with QueueStore(tmp_path / "q.db") as queue:
        screen_sealed(store, policy.layout, _keys(signer), queue, everything)
        items = list_items(queue, ItemFilter(limit=1000), clock.now())
    found = {i["text"]: {(h["lexicon"], h["rule"]) for h in i["hits"]} for i in items}
    assert found == {text: set(expected) for text, expected in HITS}
