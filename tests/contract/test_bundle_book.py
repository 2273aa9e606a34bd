"""The BundleBook contract (open, rows, update, lookups of bundles), on every journal adapter."""

from __future__ import annotations

import pickle
from dataclasses import replace
from datetime import timedelta

import pytest

from archive.codec import decode_body
from archive.errors import SealError
from archive.journal import BundleJournal, BundleState
from archive.journal.sql_base import EXTENT_STEP, record_row
from tests.contract.journals import STREAM, open_next
from tests.factories import BASE_TIME, slack_message, stored_attachment


class TestBundleBookContract:
    def test_open_bundle_takes_unsealed_in_seq_order(self, journal: BundleJournal) -> None:
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
        second = open_next(journal)
        assert second is not None and second.number == 2 and second.record_count == 6

    def test_row_source_reads_a_seq_range_after_pickling(self, journal: BundleJournal) -> None:
        """The row source survives pickling (for worker processes) and reads what bundle_rows does."""
        journal.append([slack_message(i) for i in range(10)])
        row = open_next(journal, max_records=6)
        assert row is not None
        source = pickle.loads(pickle.dumps(journal.row_source()))  # noqa: S301 (our own bytes)
        assert list(source.rows(row.seq_first, row.seq_last)) == list(
            journal.bundle_rows(STREAM, row.number)
        )
        assert len(list(source.rows(row.seq_first + 1, row.seq_last))) == 5

    def test_open_bundle_respects_byte_limit(self, journal: BundleJournal) -> None:
        """The byte limit splits bundles, but a single huge record still gets sealed."""
        journal.append([slack_message(i, text="x" * 5000) for i in range(3)])
        row = open_next(journal, max_bytes=100)
        assert row is not None and row.record_count == 1

    def test_open_bundle_byte_limit_is_inclusive(self, journal: BundleJournal) -> None:
        """Bodies that sum exactly to the byte limit share a bundle; one byte less splits them."""
        records = [slack_message(i, text="y" * (100 + i)) for i in range(5)]
        seqs = journal.append(records)
        sizes = [record_row(r)[8] for r in records]
        first = open_next(journal, max_bytes=sizes[0] + sizes[1])
        second = open_next(journal, max_bytes=sizes[2] + sizes[3] - 1)
        rest = open_next(journal, max_records=2)
        assert first is not None and second is not None and rest is not None
        assert (first.record_count, first.seq_first, first.seq_last) == (2, seqs[0], seqs[1])
        assert (second.record_count, second.seq_first, second.seq_last) == (1, seqs[2], seqs[2])
        assert (rest.record_count, rest.seq_first, rest.seq_last) == (2, seqs[3], seqs[4])
        assert open_next(journal) is None

    def test_open_bundle_limits_fall_across_summing_steps(self, journal: BundleJournal) -> None:
        """Past the index entries summed at a time, the count and byte limits cut where a
        record-by-record walk would: inclusive, anywhere in a step, and at the end."""
        records = [slack_message(i, text="z" * (i % 50)) for i in range(2 * EXTENT_STEP + 300)]
        seqs = journal.append(records)
        sizes = [record_row(r)[8] for r in records]
        cut = EXTENT_STEP + 123  # the byte limit falls inside the second step
        by_bytes = open_next(journal, max_records=10 * EXTENT_STEP, max_bytes=sum(sizes[:cut]))
        by_count = open_next(journal, max_records=EXTENT_STEP + 5)
        rest = open_next(journal, max_records=10 * EXTENT_STEP)
        assert by_bytes is not None and by_count is not None and rest is not None
        assert (by_bytes.record_count, by_bytes.seq_last) == (cut, seqs[cut - 1])
        assert (by_count.seq_first, by_count.seq_last) == (seqs[cut], seqs[cut + EXTENT_STEP + 4])
        assert (rest.seq_first, rest.seq_last) == (seqs[cut + EXTENT_STEP + 5], seqs[-1])
        assert open_next(journal) is None

    def test_open_bundle_empty(self, journal: BundleJournal) -> None:
        """With nothing unsealed there is no bundle to open."""
        assert open_next(journal) is None

    def test_unfinished_bundle_and_update(self, journal: BundleJournal) -> None:
        """An opened bundle is unfinished until it is updated to SEALED."""
        journal.append([slack_message(1)])
        row = open_next(journal)
        assert journal.unfinished_bundles(STREAM) == [row]
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

    def test_one_journal_one_stream(self, journal: BundleJournal) -> None:
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

    def test_bundle_rows_carry_what_the_manifest_needs(self, journal: BundleJournal) -> None:
        """Rows give occurred_at, the conversation and referenced blob hashes."""
        att = stored_attachment(b"%PDF-1.7 term sheet")
        journal.append([slack_message(1), slack_message(2, channel="C0OTHER", attachments=(att,))])
        open_next(journal)
        rows = list(journal.bundle_rows(STREAM, 1))
        assert [(r[3], r[4]) for r in rows] == [
            ("slack:T0001:C0123ABCD", ""),
            ("slack:T0001:C0OTHER", att.sha256),
        ]
        assert rows[0][2] == "2026-11-02T09:30:01.000000Z"

    def test_records_after_a_bundle_go_to_the_next(self, journal: BundleJournal) -> None:
        """Records appended after a bundle was opened are unsealed and go to the next bundle."""
        journal.append([slack_message(1), slack_message(2)])
        first = open_next(journal)
        journal.append([slack_message(3)])
        assert journal.stats(STREAM).unsealed == 1
        second = open_next(journal)
        assert first is not None and second is not None
        assert second.seq_first > first.seq_last and second.record_count == 1
