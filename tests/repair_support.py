"""Helpers for the `attachments repair` tests: an archive as written before the empty-media fix."""

from __future__ import annotations

import asyncio
import io
from datetime import UTC, datetime, timedelta

from click.testing import CliRunner, Result

from archive.attachments import attachment_record, store_blob
from archive.blob_check import EMPTY_SHA256
from archive.journal.sqlite import SqliteJournal
from archive.model import Attachment, AttachmentState, Record
from archive.store.port import Retention
from archive.store.s3 import S3ArchiveStore
from chatkeeper import build
from chatkeeper.cli import cli
from chatkeeper.settings import load_settings


async def run_cli(args: list[str], env: dict[str, str]) -> Result:
    """The CLI runs its own event loop, so it runs on a thread while the fake serves here."""
    return await asyncio.to_thread(CliRunner().invoke, cli, args, env=env)


def written_before_the_fix(
    journal: SqliteJournal, store: S3ArchiveStore | None, env: dict[str, str]
) -> list[Record]:
    """What the worker wrote before the fix for media with a mime type: an empty blob, stored.

    Without ``store`` the empty blob is not uploaded (a test that never seals).
    """
    now = datetime.now(UTC).replace(microsecond=0)
    if store is not None:
        store_blob(
            store,
            build.layout(load_settings(env=env)),
            io.BytesIO(b""),
            size=0,
            sha256_hex=EMPTY_SHA256,
            retention=Retention("COMPLIANCE", now + timedelta(days=2)),
        )
    written = []
    for record in list(journal.iter_records()):
        for pending in record.attachments:
            empty = Attachment(
                name=pending.name,
                state=AttachmentState.STORED,
                sha256=EMPTY_SHA256,
                mime=pending.mime,
                size=0,
                ref=pending.ref,
            )
            written.append(attachment_record(record, empty, now))
    journal.append(written)
    return written
