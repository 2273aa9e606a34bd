"""Fixtures for the CLI tests: settings pointing the CLI at the test bucket."""

from __future__ import annotations

from pathlib import Path

import pytest

from archive.store.local_s3 import LocalS3Endpoint
from tests.contract.journals import pg_database

__all__ = ["pg_database"]


@pytest.fixture
def env(tmp_path: Path, s3_endpoint: LocalS3Endpoint, bucket: str) -> dict[str, str]:
    """Settings pointing the CLI at the test bucket with the archiver's credentials."""
    return {
        "CHATKEEPER_HOME": str(tmp_path / "home"),
        "CHATKEEPER_S3_ENDPOINT": s3_endpoint.url,
        "CHATKEEPER_S3_BUCKET": bucket,
        "CHATKEEPER_S3_ACCESS_KEY": s3_endpoint.archiver.access_key,
        "CHATKEEPER_S3_SECRET_KEY": s3_endpoint.archiver.secret_key,
        "CHATKEEPER_ARCHIVE_RETENTION_DAYS": "1",
        "CHATKEEPER_ARCHIVE_MIN_RETENTION_DAYS": "1",
        "CHATKEEPER_ARCHIVE_BUNDLE_MAX_RECORDS": "40",
    }
