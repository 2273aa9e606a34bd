"""The Leases contract (leases for scheduled jobs), on every journal adapter."""

from __future__ import annotations

from datetime import timedelta

from archive.journal import Leases
from tests.factories import BASE_TIME


class TestLeasesContract:
    def test_leases(self, journal: Leases) -> None:
        """A lease has one holder until it expires or is released."""
        assert journal.acquire_lease("seal", "a", BASE_TIME, 60)
        assert journal.acquire_lease("seal", "a", BASE_TIME, 60)
        assert not journal.acquire_lease("seal", "b", BASE_TIME, 60)
        assert journal.acquire_lease("seal", "b", BASE_TIME + timedelta(seconds=61), 60)
        journal.release_lease("seal", "b")
        assert journal.acquire_lease("seal", "c", BASE_TIME + timedelta(seconds=62), 60)
