"""The RecordLog contract (records: submit/append, get, contains, stats), on every journal adapter."""

from __future__ import annotations

import threading
from typing import Any

from archive.journal import RecordLog
from archive.model import Kind
from tests.contract.journals import STREAM
from tests.factories import slack_message


class TestRecordLogContract:
    def test_append_returns_increasing_seqs(self, journal: RecordLog) -> None:
        """Appended records get increasing seqs and read back unchanged."""
        records = [slack_message(i) for i in range(5)]
        seqs = journal.append(records)
        assert seqs == sorted(seqs) and len(set(seqs)) == 5
        stored = journal.get(records[2].key)
        assert stored is not None
        assert stored.raw == records[2].raw
        assert stored.text == records[2].text
        assert stored.seq == seqs[2]

    def test_duplicate_key_is_stored_once(self, journal: RecordLog) -> None:
        """A retried delivery (same key) is a no-op that returns the existing seq."""
        first = journal.append([slack_message(1)])
        again = journal.append([slack_message(1), slack_message(2)])
        assert again[0] == first[0]
        assert journal.stats(STREAM).records == 2
        stored = journal.get(slack_message(2).key)  # the new key of that batch, with its seq
        assert stored is not None and stored.seq == again[1] > first[0]

    def test_duplicate_within_one_batch(self, journal: RecordLog) -> None:
        """The same key twice in one append is stored once and both get its seq."""
        seqs = journal.append([slack_message(7), slack_message(7)])
        assert seqs[0] == seqs[1]
        assert journal.stats(STREAM).records == 1

    def test_concurrent_appends_all_durable(self, journal: RecordLog) -> None:
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

    def test_contains_reports_known_keys(self, journal: RecordLog) -> None:
        """contains() returns exactly the keys already journaled."""
        journal.append([slack_message(1)])
        known = slack_message(1).key
        unknown = slack_message(2).key
        assert journal.contains([known, unknown]) == {known}

    def test_find_records_filters_in_seq_order(self, journal: RecordLog) -> None:
        """find_records keeps platform, workspace, conversation, kinds and since, in seq order."""
        records = [
            slack_message(1),
            slack_message(2, channel="C0OTHER"),
            slack_message(3, kind=Kind.DELETE),
            slack_message(4, team="T0002"),
            slack_message(5),
            slack_message(6, kind=Kind.EDIT),
        ]
        journal.append(records)

        def keys(**filters: Any) -> list[str]:
            return [r.key for r in journal.find_records("slack", **filters)]

        assert keys() == [r.key for r in records]
        assert keys(conversation="C0123ABCD", workspace="T0001", kinds={Kind.MESSAGE}) == [
            records[0].key,
            records[4].key,
        ]
        assert keys(conversation="C0123ABCD", kinds={Kind.DELETE, Kind.EDIT}) == [
            records[2].key,
            records[5].key,
        ]
        assert keys(conversation="C0123ABCD", since=records[4].occurred_at) == [
            records[4].key,
            records[5].key,
        ]
        assert list(journal.find_records("telegram")) == []
        (found,) = journal.find_records("slack", conversation="C0OTHER")
        assert found.raw == records[1].raw and found.seq is not None

    def test_stats_oldest_unsealed(self, journal: RecordLog) -> None:
        """Stats report the backlog and the capture time of its oldest record."""
        journal.append([slack_message(3), slack_message(4)])
        stats = journal.stats(STREAM)
        assert stats.unsealed == 2
        assert stats.oldest_unsealed_captured_at == slack_message(3).captured_at

    def test_empty_append_and_mixed_batches(self, journal: RecordLog) -> None:
        """An empty append stores nothing; batches mixing new, known and repeated keys resolve."""
        assert journal.append([]) == []
        known = journal.append([slack_message(1)])
        futures = [
            journal.submit([slack_message(1), slack_message(2), slack_message(2)]),
            journal.submit([slack_message(3), slack_message(1)]),
        ]
        first, second = (f.result() for f in futures)
        assert first[0] == second[1] == known[0]
        assert first[1] == first[2] != second[0]
        assert journal.stats(STREAM).records == 3
