"""Builds the running parts from Settings: journal, store, signer, sealing policy, layout.

``open_store(settings, role=...)`` opens the store as one S3 duty: ``archiver``
(the default) and ``auditor`` use ``s3.access_key``; ``legal`` and
``disposition`` their own keys (``s3.legal_*``, ``s3.disposition_*``), and
fail closed (ConfigError) without them. ``hold_after_seal`` and
``seal_time_holds`` wire the open matters' legal holds onto newly sealed
bundles, for ``chatkeeper seal`` and for ``serve``'s scheduled sealing.

When no S3 endpoint is configured, ``open_store`` uses the embedded SeaweedFS
under ``<home>/s3``: it attaches to one already running there (``chatkeeper
local-s3``) or starts one for the duration of the command.
"""

from __future__ import annotations

import socket
from collections.abc import Callable, Iterator, Sequence
from contextlib import contextmanager

import structlog

from archive.bundle import Layout
from archive.clock import Clock, SystemClock
from archive.config import S3Settings
from archive.errors import ChatkeeperError, ConfigError
from archive.holds import HoldContext, Officer, hold_new_bundles, load_matters
from archive.journal import BundleRow, Journal
from archive.journal.sqlite import SqliteJournal
from archive.keys import Signer, load_or_create_signer
from archive.retention_class import parse_rule
from archive.seal import SealPolicy, SealReport
from archive.store import ArchiveStore
from archive.store.local_s3 import LocalS3
from archive.store.s3 import S3ArchiveStore, make_client
from bots.bot import Bot
from chatkeeper.settings import Settings

log = structlog.get_logger("chatkeeper.build")


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
        build_workers=a.seal_workers,
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


def last_sealed_bundle(settings: Settings) -> int | None:
    """The journal's last sealed bundle (SQLite or PostgreSQL), if this host has the journal.

    ``verify`` and ``export`` pass it as ``expected_last``, so a removed tail is a gap.
    """
    if not settings.journal.dsn and not settings.journal_path.exists():
        return None
    with open_journal(settings) as journal:
        last = journal.stats(settings.archive.stream).last_sealed
    return last.number if last else None


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
        yield _s3_store(s3, s3.endpoint, access, secret)
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


def hold_context(
    settings: Settings,
    journal: Journal,
    store: ArchiveStore,
    legal: ArchiveStore,
    clock: Clock,
    *,
    duty: str = "hold",
) -> HoldContext:
    """What a hold operation needs: the archiver's ``store`` seals, ``legal`` holds."""
    return HoldContext(
        journal,
        store,
        legal,
        signer(settings),
        seal_policy(settings),
        clock,
        holder=f"{socket.gethostname()}:{duty}",
        lease_seconds=settings.schedule.lease_seconds,
    )


def hold_after_seal(
    settings: Settings, journal: Journal, store: ArchiveStore, rows: Sequence[BundleRow]
) -> int:
    """After a seal, under its lease: hold new bundles in an open matter's scope.

    The objects held (0 when no matter is open: then no legal identity is needed).
    """
    if not rows or not any(m.open for m in load_matters(store, layout(settings)).values()):
        return 0
    clock = SystemClock()
    with open_store(settings, role="legal") as legal:
        ctx = hold_context(settings, journal, store, legal, clock, duty="seal")
        return hold_new_bundles(ctx, rows, Officer("chatkeeper seal", clock.now()))


def seal_time_holds(
    settings: Settings, journal: Journal, store: ArchiveStore
) -> Callable[[SealReport], None]:
    """``serve``'s ``SealJob.after_seal`` step: ``hold_after_seal``, a failure logged.

    The bundles are sealed either way; ``verify`` reports a covered object left
    without its hold, and ``hold create`` again with the same scope places it.
    """

    def after_seal(report: SealReport) -> None:
        try:
            hold_after_seal(settings, journal, store, report.bundles)
        except ChatkeeperError as exc:
            log.error(
                "hold.seal_time_failed", error=str(exc), bundles=[r.number for r in report.bundles]
            )

    return after_seal


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
