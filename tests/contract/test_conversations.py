"""The Conversations contract (monitored conversations), on every journal adapter."""

from __future__ import annotations

from archive.journal import Conversations, Monitored
from tests.factories import BASE_TIME


class TestConversationsContract:
    def test_monitoring(self, journal: Conversations) -> None:
        """Monitoring on/off is kept per conversation with who and when."""
        entry = Monitored("slack", "T1", "C1", "deals", True, "U1", BASE_TIME)
        journal.set_monitoring(entry)
        assert journal.is_monitored("slack", "T1", "C1")
        journal.set_monitoring(Monitored("slack", "T1", "C1", None, False, "U2", BASE_TIME))
        assert not journal.is_monitored("slack", "T1", "C1")
        (now,) = journal.monitoring("slack")
        assert now.conversation_name == "deals" and now.changed_by == "U2"
        assert journal.monitoring("telegram") == []
