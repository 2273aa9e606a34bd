"""Archive tests share the PostgreSQL schema fixture of the contract suites; store handles of
each S3 duty on the test bucket, and the hold context built on them."""

from __future__ import annotations

import pytest

from archive.clock import FixedClock
from archive.holds import HoldContext
from archive.journal.sqlite import SqliteJournal
from archive.keys import Signer
from archive.seal import SealPolicy
from archive.store.local_s3 import LocalS3Endpoint
from archive.store.s3 import S3ArchiveStore, make_client
from tests.contract.journals import pg_database, pg_dsn

__all__ = ["pg_database", "pg_dsn"]


def duty_store(endpoint: LocalS3Endpoint, bucket: str, role: str) -> S3ArchiveStore:
    """The test bucket as one embedded-S3 identity sees it."""
    creds = endpoint.role(role)
    return S3ArchiveStore(
        make_client(endpoint.url, creds.access_key, creds.secret_key, max_attempts=1), bucket
    )


@pytest.fixture
def legal_store(s3_endpoint: LocalS3Endpoint, bucket: str) -> S3ArchiveStore:
    return duty_store(s3_endpoint, bucket, "legal")


@pytest.fixture
def auditor_store(s3_endpoint: LocalS3Endpoint, bucket: str) -> S3ArchiveStore:
    return duty_store(s3_endpoint, bucket, "auditor")


@pytest.fixture
def hold_ctx(
    journal: SqliteJournal,
    store: S3ArchiveStore,
    legal_store: S3ArchiveStore,
    signer: Signer,
    policy: SealPolicy,
    clock: FixedClock,
) -> HoldContext:
    return HoldContext(journal, store, legal_store, signer, policy, clock)
