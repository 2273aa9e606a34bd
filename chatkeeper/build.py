"""Builds the running parts from Settings: journal, store, signer, sealing policy, layout.

When no S3 endpoint is configured, ``open_store`` uses the embedded SeaweedFS
under ``<home>/s3``: it attaches to one already running there (``chatkeeper
local-s3``) or starts one for the duration of the command.
"""

from __future__ import annotations

from collections.abc import Iterator
from contextlib import contextmanager

from archive.bundle import Layout
from archive.config import S3Settings
from archive.journal import Journal
from archive.journal.sqlite import SqliteJournal
from archive.keys import Signer, load_or_create_signer
from archive.seal import SealPolicy
from archive.store.local_s3 import LocalS3
from archive.store.s3 import S3ArchiveStore, make_client
from bots.bot import Bot
from chatkeeper.settings import Settings


def layout(settings: Settings) -> Layout:
    return Layout(stream=settings.archive.stream, prefix=settings.s3.prefix)


def seal_policy(settings: Settings) -> SealPolicy:
    a = settings.archive
    return SealPolicy(
        layout=layout(settings),
        retention_mode=a.retention_mode,
        retention_days=a.retention_days,
        min_retention_days=a.min_retention_days,
        max_records=a.bundle_max_records,
        max_bytes=a.bundle_max_bytes,
        zstd_level=a.zstd_level,
        checkpoint_interval_seconds=settings.schedule.checkpoint_interval_seconds,
    )


def signer(settings: Settings) -> Signer:
    return load_or_create_signer(settings.home / "keys")


@contextmanager
def open_journal(settings: Settings) -> Iterator[Journal]:
    if settings.journal.dsn:
        from archive.journal.postgres import PostgresJournal

        journal: Journal = PostgresJournal(settings.journal.dsn)
    else:
        journal = SqliteJournal(settings.journal_path)
    try:
        yield journal
    finally:
        journal.close()


def last_sealed_bundle(settings: Settings) -> int | None:
    """The journal's last sealed bundle (SQLite or PostgreSQL), if this host has the journal.

    ``verify`` and ``export`` pass it as ``expected_last``, so a removed tail is a gap.
    """
    if not settings.journal.dsn and not settings.journal_path.exists():
        return None
    with open_journal(settings) as journal:
        last = journal.stats(settings.archive.stream).last_sealed
    return last.number if last else None


@contextmanager
def open_store(settings: Settings, *, role: str = "archiver") -> Iterator[S3ArchiveStore]:
    """The archive store: the configured S3, or the embedded SeaweedFS."""
    s3 = settings.s3
    if s3.endpoint:
        yield _s3_store(s3, s3.endpoint, s3.access_key, s3.secret_key)
        return
    local = LocalS3(settings.home / "s3")
    endpoint = local.attach()
    started = endpoint is None
    if endpoint is None:
        endpoint = local.start()
    try:
        local.ensure_bucket(
            s3.bucket, mode=settings.archive.retention_mode, days=settings.archive.retention_days
        )
        creds = endpoint.auditor if role == "auditor" else endpoint.archiver
        yield _s3_store(s3, endpoint.url, creds.access_key, creds.secret_key)
    finally:
        if started:
            local.stop()


def _s3_store(s3: S3Settings, url: str, access_key: str, secret_key: str) -> S3ArchiveStore:
    client = make_client(
        url,
        access_key,
        secret_key,
        s3.region,
        connect_timeout=s3.connect_timeout_seconds,
        read_timeout=s3.read_timeout_seconds,
        max_attempts=s3.max_attempts,
    )
    return S3ArchiveStore(client, s3.bucket)


def build_bots(settings: Settings, journal: Journal) -> list[Bot]:
    """One Bot per configured platform (none until a bot is configured); fails closed
    (ConfigError) without a Slack signing secret in HTTP mode or on unsafe Telegram settings."""
    bots: list[Bot] = []
    if settings.slack.enabled:
        from bots.slack.bot import SlackBot

        bots.append(
            SlackBot(
                settings.slack,
                journal,
                capture_mode=settings.capture.mode,
                admin_user_ids=settings.capture.admin_user_ids,
                stream=settings.archive.stream,
            )
        )
    if settings.telegram.token:
        from bots.telegram.application import TelegramRuntime
        from bots.telegram.bot import TelegramBot

        runtime = TelegramRuntime(
            settings.telegram,
            journal,
            capture_mode=settings.capture.mode,
            configured_admins=settings.capture.admin_user_ids,
            home=settings.home,
        )
        bots.append(TelegramBot(runtime))
    return bots
