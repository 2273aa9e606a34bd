"""Builds the running parts from Settings: journal, store, signer, sealing policy.

When no S3 endpoint is configured, ``open_store`` uses the embedded SeaweedFS
under ``<home>/s3``: it attaches to one already running there (``chatkeeper
local-s3``) or starts one for the duration of the command.
"""

from __future__ import annotations

from collections.abc import Iterator
from contextlib import contextmanager

from archive.bundle import Layout
from archive.errors import ConfigError
from archive.journal import Journal
from archive.journal.sqlite import SqliteJournal
from archive.keys import Signer, load_or_create_signer
from archive.retention_class import parse_rule
from archive.seal import SealPolicy
from archive.store.local_s3 import LocalS3
from archive.store.s3 import S3ArchiveStore, make_client
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
        retention_rules=tuple(parse_rule(t) for t in a.retention_rules),
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


def _configured_credentials(settings: Settings, role: str) -> tuple[str, str]:
    """The access and secret key of one duty; the legal and disposition duties have their own."""
    s3 = settings.s3
    if role in {"archiver", "auditor"}:
        return s3.access_key, s3.secret_key
    access, secret = {
        "legal": (s3.legal_access_key, s3.legal_secret_key),
        "disposition": (s3.disposition_access_key, s3.disposition_secret_key),
    }[role]
    if not access or not secret:
        raise ConfigError(
            f"s3.{role}_access_key and s3.{role}_secret_key are not set: the {role} duty "
            "uses its own S3 identity (see docs/operations.md)"
        )
    return access, secret


@contextmanager
def open_store(settings: Settings, *, role: str = "archiver") -> Iterator[S3ArchiveStore]:
    """The archive store: the configured S3, or the embedded SeaweedFS."""
    s3 = settings.s3
    if s3.endpoint:
        access, secret = _configured_credentials(settings, role)
        client = make_client(
            s3.endpoint,
            access,
            secret,
            s3.region,
            connect_timeout=s3.connect_timeout_seconds,
            read_timeout=s3.read_timeout_seconds,
            max_attempts=s3.max_attempts,
        )
        yield S3ArchiveStore(client, s3.bucket)
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
        creds = endpoint.role(role)
        client = make_client(
            endpoint.url,
            creds.access_key,
            creds.secret_key,
            s3.region,
            connect_timeout=s3.connect_timeout_seconds,
            read_timeout=s3.read_timeout_seconds,
            max_attempts=s3.max_attempts,
        )
        yield S3ArchiveStore(client, s3.bucket)
    finally:
        if started:
            local.stop()
