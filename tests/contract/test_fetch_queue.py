"""The FetchQueue contract (the attachment fetch queue), on every journal adapter."""

from __future__ import annotations

from datetime import timedelta

from archive.journal import FetchQueue
from tests.factories import BASE_TIME


class TestFetchQueueContract:
    def test_fetch_queue(self, journal: FetchQueue) -> None:
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

    def test_pending_fetches_counts_unsettled_tasks(self, journal: FetchQueue) -> None:
        """The queue depth counts queued, claimed and retried tasks, not finished ones."""
        assert journal.pending_fetches() == 0
        journal.enqueue_fetch("k" * 64, "slack", "F1", "a.pdf", "{}", BASE_TIME)
        journal.enqueue_fetch("k" * 64, "slack", "F2", "b.pdf", "{}", BASE_TIME)
        journal.enqueue_fetch("k" * 64, "slack", "F2", "b.pdf", "{}", BASE_TIME)
        first, second = journal.claim_fetches(BASE_TIME, 10)
        journal.retry_fetch(second.id, BASE_TIME + timedelta(minutes=1), "HTTP 503")
        assert journal.pending_fetches() == 2
        journal.finish_fetch(first.id)
        assert journal.pending_fetches() == 1
