"""PostgresJournal after its server connections are cut (a restart, a failover).

Runs when CHATKEEPER_TEST_PG_DSN is set. The journal's connections carry an
application name of their own, so the test cuts exactly those, as a server restart
would, and nothing else on the server.
"""

from __future__ import annotations

import secrets

import psycopg
import pytest
from psycopg.conninfo import make_conninfo

from archive.errors import JournalError
from archive.journal.postgres import PostgresJournal
from tests.contract.journals import PG_DSN, STREAM
from tests.factories import slack_message

pytestmark = pytest.mark.skipif(not PG_DSN, reason="CHATKEEPER_TEST_PG_DSN is not set")


def _cut(name: str) -> int:
    """Terminate every backend of application ``name``; how many there were."""
    with psycopg.connect(PG_DSN, autocommit=True) as admin:
        rows = admin.execute(
            "SELECT pg_terminate_backend(pid) FROM pg_stat_activity WHERE application_name = %s",
            (name,),
        ).fetchall()
    return len(rows)


def test_appends_and_reads_go_on_after_the_connections_are_cut(pg_dsn: str) -> None:
    """A cut connection fails the one call that meets it (nothing is acknowledged that was not
    stored); the calls after it open a new connection, and nothing is stored twice."""
    name = f"ck_cut_{secrets.token_hex(4)}"
    with PostgresJournal(make_conninfo(pg_dsn, application_name=name)) as journal:
        assert journal.append([slack_message(1)]) == [1]
        assert _cut(name) >= 2  # the control and the writer connection
        try:
            first = journal.append([slack_message(2)])
        except JournalError:
            first = journal.append([slack_message(2)])  # the failed batch, delivered again
        assert journal.append([slack_message(3), slack_message(2)])[1] == first[0]
        assert _cut(name) >= 1  # the writer's new connection (the control one is still cut)
        stats = None
        for _ in range(2):  # the first statement may meet the cut connection
            try:
                stats = journal.stats(STREAM)
                break
            except JournalError:
                continue
        assert stats is not None and stats.unsealed == 3
        keys = [r.key for r in journal.iter_records()]
        assert keys == [slack_message(n).key for n in (1, 2, 3)]
