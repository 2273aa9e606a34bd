"""Shared fixtures: a real SeaweedFS for the whole session, a fresh locked bucket per test."""

from __future__ import annotations

import secrets
from collections.abc import Iterator
from datetime import UTC, datetime
from pathlib import Path

import pytest

from archive.bundle import Layout
from archive.clock import FixedClock
from archive.journal.sqlite import SqliteJournal
from archive.keys import Signer, load_or_create_signer
from archive.seal import SealPolicy
from archive.store.local_s3 import LocalS3, LocalS3Endpoint
from archive.store.s3 import S3ArchiveStore, make_client


@pytest.fixture(scope="session")
def local_s3(tmp_path_factory: pytest.TempPathFactory) -> Iterator[LocalS3]:
    """One SeaweedFS process on loopback ephemeral ports for the test session."""
    # Every test bucket takes a SeaweedFS volume; the automatic cap (free disk / 1 GiB)
    # is about 70 here, fewer than the suite's buckets.
    server = LocalS3(tmp_path_factory.mktemp("seaweedfs"))
    server.start()
    yield server
    server.stop()


@pytest.fixture
def s3_endpoint(local_s3: LocalS3) -> LocalS3Endpoint:
    assert local_s3.endpoint is not None
    return local_s3.endpoint


@pytest.fixture
def bucket(local_s3: LocalS3) -> str:
    """A new bucket with Object Lock (COMPLIANCE, 1 day default) for this test."""
    name = f"test-{secrets.token_hex(6)}"
    local_s3.ensure_bucket(name, mode="COMPLIANCE", days=1)
    return name


@pytest.fixture
def store(s3_endpoint: LocalS3Endpoint, bucket: str) -> S3ArchiveStore:
    """The archiver's view of the test bucket (no Admin rights)."""
    creds = s3_endpoint.archiver
    return S3ArchiveStore(make_client(s3_endpoint.url, creds.access_key, creds.secret_key), bucket)


@pytest.fixture
def journal(tmp_path: Path) -> Iterator[SqliteJournal]:
    with SqliteJournal(tmp_path / "journal.db") as j:
        yield j


@pytest.fixture
def signer(tmp_path: Path) -> Signer:
    return load_or_create_signer(tmp_path / "keys")


@pytest.fixture
def clock() -> FixedClock:
    """A controllable clock starting now (S3 refuses retain-until dates in the past)."""
    return FixedClock(datetime.now(UTC))


@pytest.fixture
def policy() -> SealPolicy:
    return SealPolicy(
        layout=Layout(stream="test"), retention_days=1, min_retention_days=1, max_records=50
    )
