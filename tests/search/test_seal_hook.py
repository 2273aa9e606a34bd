"""The index update after each seal, as serve's seal job runs it."""

from __future__ import annotations

from dataclasses import replace
from pathlib import Path

from structlog.testing import capture_logs

from archive.clock import SystemClock
from archive.schedule import SealJob
from archive.store.local_s3 import LocalS3Endpoint
from chatkeeper import build
from chatkeeper.search_index import open_index, seal_hook
from chatkeeper.settings import Settings, load_settings
from search.service import search
from tests.search.corpus import corpus


def _settings(tmp_path: Path, s3_endpoint: LocalS3Endpoint, bucket: str, **extra: str) -> Settings:
    return load_settings(
        home=tmp_path / "home",
        env={
            "CHATKEEPER_S3_ENDPOINT": s3_endpoint.url,
            "CHATKEEPER_S3_BUCKET": bucket,
            "CHATKEEPER_S3_ACCESS_KEY": s3_endpoint.archiver.access_key,
            "CHATKEEPER_S3_SECRET_KEY": s3_endpoint.archiver.secret_key,
            "CHATKEEPER_ARCHIVE_RETENTION_DAYS": "1",
            "CHATKEEPER_ARCHIVE_MIN_RETENTION_DAYS": "1",
            "CHATKEEPER_ARCHIVE_BUNDLE_MAX_RECORDS": "10",
            **extra,
        },
    )


def _run_job(settings: Settings) -> int:
    with build.open_journal(settings) as journal, build.open_store(settings) as store:
        journal.append([replace(r, seq=None) for r in corpus()])
        job = SealJob(
            journal,
            store,
            build.signer(settings),
            build.seal_policy(settings),
            SystemClock(),
            after_seal=[seal_hook(settings, store)],
        )
        report = job()
    assert report is not None
    return len(report.bundles)


def test_seal_job_indexes_what_it_sealed(
    tmp_path: Path, s3_endpoint: LocalS3Endpoint, bucket: str
) -> None:
    """serve's seal job, with the hook, leaves the new bundles searchable."""
    settings = _settings(tmp_path, s3_endpoint, bucket)
    assert _run_job(settings) == 3
    with open_index(settings) as index:
        assert [b.number for b in index.held()] == [1, 2, 3]
        assert len(search(index, "会议")[1]) == 1


def test_index_failure_never_fails_the_seal(
    tmp_path: Path, s3_endpoint: LocalS3Endpoint, bucket: str
) -> None:
    """An index that cannot be opened is logged; the seal itself succeeds."""
    blocked = tmp_path / "not-a-file"
    blocked.mkdir()
    settings = _settings(tmp_path, s3_endpoint, bucket, CHATKEEPER_SEARCH_PATH=str(blocked))
    with capture_logs() as logs:
        assert _run_job(settings) == 3
    with build.open_journal(settings) as journal:
        assert journal.stats(settings.archive.stream).unsealed == 0
    assert [e["event"] for e in logs if e["log_level"] == "warning"] == ["search.index_failed"]
