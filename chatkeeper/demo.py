"""``chatkeeper demo``: the main job end to end on embedded defaults.

Starts the embedded SeaweedFS (Object Lock) and the SQLite journal in the
state directory, captures a sample conversation through the capture API,
drives the real Slack bot (Bolt, over signed HTTP) and the real Telegram bot
(python-telegram-bot, webhook) through the sandbox platforms, seals everything
into signed bundles, verifies the stream, and says where to look.
"""

from __future__ import annotations

import asyncio
import hashlib
import io
from datetime import UTC, datetime, timedelta

import click

from archive.attachments import store_blob
from archive.capture import capture
from archive.clock import SystemClock
from archive.logs import configure
from archive.seal import seal
from archive.store import Retention
from archive.verify import verify_stream
from bots.slack.sandbox.demo import run_slack_demo
from bots.telegram.sandbox.demo import run_telegram_demo
from chatkeeper import runtime
from chatkeeper.context import AppContext
from chatkeeper.demo_data import TERM_SHEET, sample_conversation


@click.command("demo")
@click.pass_context
def demo_command(ctx: click.Context) -> None:
    """Capture a sample conversation, seal it to the embedded S3, and verify it."""
    app: AppContext = ctx.obj
    settings = app.settings
    configure("warning", settings.log.format)
    clock = SystemClock()
    policy = runtime.seal_policy(settings)
    signer = runtime.signer(settings)
    click.echo(f"state directory: {settings.home.resolve()}")
    click.echo("starting the embedded S3 (SeaweedFS, Object Lock COMPLIANCE) ...")
    with runtime.open_journal(settings) as journal, runtime.open_store(settings) as store:
        until = (clock.now() + timedelta(days=settings.archive.retention_days)).replace(
            microsecond=0
        )
        store_blob(
            store,
            policy.layout,
            io.BytesIO(TERM_SHEET),
            size=len(TERM_SHEET),
            sha256_hex=hashlib.sha256(TERM_SHEET).hexdigest(),
            retention=Retention(settings.archive.retention_mode, until),
        )
        start = datetime(2026, 11, 2, 9, 30, tzinfo=UTC)
        records = list(sample_conversation(start))
        seqs = asyncio.run(capture(journal, records))
        click.echo(
            f"captured {len(records)} events through the capture API (seq {min(seqs)}..{max(seqs)}); "
            "a second run stores nothing twice"
        )
        slack = asyncio.run(
            run_slack_demo(
                journal,
                store=store,
                layout=policy.layout,
                retention_days=settings.archive.retention_days,
            )
        )
        for line in slack.lines():
            click.echo(line)
        telegram = asyncio.run(
            run_telegram_demo(
                journal,
                store=store,
                layout=policy.layout,
                retention_days=settings.archive.retention_days,
            )
        )
        click.echo(
            f"telegram: the real bot ({telegram.mode} mode) took {telegram.updates_sent} updates "
            f"from the sandbox Bot API: {_kinds(telegram.by_kind)}; archiving turned on by an "
            f"admin: {'yes' if telegram.monitored else 'no'}"
        )
        report = seal(journal, store, signer, policy, clock)
        for row in report.bundles:
            click.echo(
                f"sealed bundle {row.number}: {row.record_count} records, "
                f"manifest sha256 {row.manifest_sha256}"
            )
        if not report.bundles:
            click.echo("nothing new to seal")
        verified = verify_stream(
            store, policy.layout, {signer.public.key_id: signer.public}, deep=True
        )
        click.echo(
            f"verify --deep: {'INTACT' if verified.ok else 'INTEGRITY FAILURE'} "
            f"({verified.bundles} bundles, {verified.records} records)"
        )
        for finding in verified.findings:
            click.echo(f"  ! bundle {finding.bundle} [{finding.check}] {finding.message}")
        bucket = store.bucket
    home = settings.home
    click.echo("")
    click.echo(
        f"The archive is in bucket {bucket!r} of the embedded S3, data under {home / 's3' / 'data'}:"
    )
    click.echo(
        f"  {policy.layout.bundles_prefix}NNNNNNNNNN/records.jsonl.zst  (records, zstd JSON lines)"
    )
    click.echo(f"  {policy.layout.bundles_prefix}NNNNNNNNNN/manifest.json      (signed manifest)")
    click.echo(f"  {policy.layout.prefix}blobs/sha256/..                        (attachments)")
    click.echo("Look at it with:")
    click.echo(f"  .venv/bin/chatkeeper --home {home} status")
    click.echo(f"  .venv/bin/chatkeeper --home {home} verify --deep")
    click.echo(
        f"  .venv/bin/chatkeeper --home {home} local-s3   # serve it; credentials in {home / 's3' / 'archiver.env'}"
    )
    click.echo(f"Signing public key: {home / 'keys' / (signer.public.key_id + '.pub.json')}")
    if not verified.ok:
        ctx.exit(3)


def _kinds(by_kind: dict[str, int]) -> str:
    return ", ".join(f"{count} {kind}" for kind, count in sorted(by_kind.items())) or "nothing new"


def register(cli: click.Group) -> None:
    cli.add_command(demo_command)
