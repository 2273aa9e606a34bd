"""The contract every Journal adapter passes. Subclass it and provide a ``journal`` fixture."""

from __future__ import annotations

import threading
from datetime import timedelta

import pytest

from archive.codec import decode_body
from archive.errors import SealError
from archive.journal import BundleState, Journal, Monitored
from tests.factories import BASE_TIME, slack_message, stored_attachment

STREAM = "contract"


def _open(journal: Journal, max_records: int = 1000, max_bytes: int = 1 << 30) -> object:
    return journal.open_bundle(
        STREAM,
        max_records=max_records,
        max_bytes=max_bytes,
        created_at=BASE_TIME,
        retain_until=BASE_TIME + timedelta(days=1),
    )


class JournalContract:
    def test_append_returns_increasing_seqs(self, journal: Journal) -> None:
        """Appended records get increasing seqs and read back unchanged."""
        records = [slack_message(i) for i in range(5)]
        seqs = journal.append(records)
        assert seqs == sorted(seqs) and len(set(seqs)) == 5
        stored = journal.get(records[2].key)
        assert stored is not None
        assert stored.raw == records[2].raw
        assert stored.text == records[2].text
        assert stored.seq == seqs[2]

    def test_duplicate_key_is_stored_once(self, journal: Journal) -> None:
        """A retried delivery (same key) is a no-op that returns the existing seq."""
        first = journal.append([slack_message(1)])
        again = journal.append([slack_message(1), slack_message(2)])
        assert again[0] == first[0]
        assert journal.stats(STREAM).records == 2

    def test_duplicate_within_one_batch(self, journal: Journal) -> None:
        """The same key twice in one append is stored once and both get its seq."""
        seqs = journal.append([slack_message(7), slack_message(7)])
        assert seqs[0] == seqs[1]
        assert journal.stats(STREAM).records == 1

    def test_concurrent_appends_all_durable(self, journal: Journal) -> None:
        """Many threads appending at once all get distinct seqs and nothing is lost."""
        results: list[list[int]] = []
        lock = threading.Lock()

        def worker(base: int) -> None:
            for i in range(20):
                seqs = journal.append([slack_message(base * 100 + i)])
                with lock:
                    results.append(seqs)

        threads = [threading.Thread(target=worker, args=(b,)) for b in range(8)]
        for t in threads:
            t.start()
        for t in threads:
            t.join()
        all_seqs = [s for r in results for s in r]
        assert len(set(all_seqs)) == 160
        assert journal.stats(STREAM).records == 160

    def test_contains_reports_known_keys(self, journal: Journal) -> None:
        """contains() returns exactly the keys already journaled."""
        journal.append([slack_message(1)])
        known = slack_message(1).key
        unknown = slack_message(2).key
        assert journal.contains([known, unknown]) == {known}

    def test_open_bundle_takes_unsealed_in_seq_order(self, journal: Journal) -> None:
        """A bundle takes the oldest unsealed records up to the count limit."""
        seqs = journal.append([slack_message(i) for i in range(10)])
        row = journal.open_bundle(
            STREAM,
            max_records=4,
            max_bytes=1 << 30,
            created_at=BASE_TIME,
            retain_until=BASE_TIME + timedelta(days=1),
        )
        assert row is not None
        assert (row.number, row.record_count, row.seq_first, row.seq_last) == (
            1,
            4,
            seqs[0],
            seqs[3],
        )
        rows = list(journal.bundle_rows(STREAM, 1))
        assert [row[0] for row in rows] == seqs[:4]
        assert decode_body(rows[0][1]).key == slack_message(0).key
        assert rows[0][3] == "slack:T0001:C0123ABCD"
        second = _open(journal)
        assert second is not None and second.number == 2 and second.record_count == 6

    def test_open_bundle_respects_byte_limit(self, journal: Journal) -> None:
        """The byte limit splits bundles, but a single huge record still gets sealed."""
        journal.append([slack_message(i, text="x" * 5000) for i in range(3)])
        row = _open(journal, max_bytes=100)
        assert row is not None and row.record_count == 1

    def test_open_bundle_empty(self, journal: Journal) -> None:
        """With nothing unsealed there is no bundle to open."""
        assert _open(journal) is None

    def test_unfinished_bundle_and_update(self, journal: Journal) -> None:
        """An opened bundle is unfinished until it is updated to SEALED."""
        journal.append([slack_message(1)])
        row = _open(journal)
        assert journal.unfinished_bundles(STREAM) == [row]
        from dataclasses import replace

        assert row is not None
        sealed = replace(
            row,
            state=BundleState.SEALED,
            records_sha256="a" * 64,
            records_size=10,
            records_version="v1",
            manifest_sha256="b" * 64,
            manifest_version="v2",
        )
        journal.update_bundle(sealed)
        assert journal.unfinished_bundles(STREAM) == []
        assert journal.bundles(STREAM) == [sealed]
        assert journal.bundle(STREAM, 1) == sealed
        assert journal.bundle(STREAM, 2) is None
        stats = journal.stats(STREAM)
        assert stats.last_sealed == sealed and stats.unsealed == 0

    def test_one_journal_one_stream(self, journal: Journal) -> None:
        """A journal refuses to seal into a second stream."""
        journal.append([slack_message(1), slack_message(2)])
        journal.open_bundle(
            STREAM, max_records=1, max_bytes=1 << 30, created_at=BASE_TIME, retain_until=BASE_TIME
        )
        with pytest.raises(SealError):
            journal.open_bundle(
                "other",
                max_records=1,
                max_bytes=1 << 30,
                created_at=BASE_TIME,
                retain_until=BASE_TIME,
            )

    def test_bundle_rows_carry_what_the_manifest_needs(self, journal: Journal) -> None:
        """Rows give occurred_at, the conversation and referenced blob hashes."""
        att = stored_attachment(b"%PDF-1.7 term sheet")
        journal.append([slack_message(1), slack_message(2, channel="C0OTHER", attachments=(att,))])
        _open(journal)
        rows = list(journal.bundle_rows(STREAM, 1))
        assert [(r[3], r[4]) for r in rows] == [
            ("slack:T0001:C0123ABCD", ""),
            ("slack:T0001:C0OTHER", att.sha256),
        ]
        assert rows[0][2] == "2026-11-02T09:30:01.000000Z"

    def test_records_after_a_bundle_go_to_the_next(self, journal: Journal) -> None:
        """Records appended after a bundle was opened are unsealed and go to the next bundle."""
        journal.append([slack_message(1), slack_message(2)])
        first = _open(journal)
        journal.append([slack_message(3)])
        assert journal.stats(STREAM).unsealed == 1
        second = _open(journal)
        assert first is not None and second is not None
        assert second.seq_first > first.seq_last and second.record_count == 1

    def test_stats_oldest_unsealed(self, journal: Journal) -> None:
        """Stats report the backlog and the capture time of its oldest record."""
        journal.append([slack_message(3), slack_message(4)])
        stats = journal.stats(STREAM)
        assert stats.unsealed == 2
        assert stats.oldest_unsealed_captured_at == slack_message(3).captured_at

    def test_monitoring(self, journal: Journal) -> None:
        """Monitoring on/off is kept per conversation with who and when."""
        entry = Monitored("slack", "T1", "C1", "deals", True, "U1", BASE_TIME)
        journal.set_monitoring(entry)
        assert journal.is_monitored("slack", "T1", "C1")
        journal.set_monitoring(Monitored("slack", "T1", "C1", None, False, "U2", BASE_TIME))
        assert not journal.is_monitored("slack", "T1", "C1")
        (now,) = journal.monitoring("slack")
        assert now.conversation_name == "deals" and now.changed_by == "U2"
        assert journal.monitoring("telegram") == []

    def test_fetch_queue(self, journal: Journal) -> None:
        """Fetch tasks are idempotent, claimed once, retried later, and finished."""
        journal.enqueue_fetch("k" * 64, "slack", "F1", "a.pdf", "{}", BASE_TIME)
        journal.enqueue_fetch("k" * 64, "slack", "F1", "a.pdf", "{}", BASE_TIME)
        (task,) = journal.claim_fetches(BASE_TIME, 10)
        assert journal.claim_fetches(BASE_TIME, 10) == []
        journal.retry_fetch(task.id, BASE_TIME + timedelta(minutes=1), "HTTP 503")
        assert journal.claim_fetches(BASE_TIME, 10) == []
        (again,) = journal.claim_fetches(BASE_TIME + timedelta(minutes=2), 10)
        assert again.attempts == 1
        journal.finish_fetch(again.id)
        assert journal.claim_fetches(BASE_TIME + timedelta(hours=1), 10) == []

    def test_leases(self, journal: Journal) -> None:
        """A lease has one holder until it expires or is released."""
        assert journal.acquire_lease("seal", "a", BASE_TIME, 60)
        assert journal.acquire_lease("seal", "a", BASE_TIME, 60)
        assert not journal.acquire_lease("seal", "b", BASE_TIME, 60)
        assert journal.acquire_lease("seal", "b", BASE_TIME + timedelta(seconds=61), 60)
        journal.release_lease("seal", "b")
        assert journal.acquire_lease("seal", "c", BASE_TIME + timedelta(seconds=62), 60)
