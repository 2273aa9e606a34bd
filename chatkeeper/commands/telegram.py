"""Telegram commands: ``import telegram-export PATH`` and ``completeness telegram``."""

from __future__ import annotations

import json
from dataclasses import asdict
from pathlib import Path

import click

from bots.telegram import export_import
from bots.telegram.completeness import journal_gaps
from bots.telegram.export_files import BlobTarget
from chatkeeper import build
from chatkeeper.commands.group import completeness_group, import_group, settings_of
from chatkeeper.progress import progress_bar


@import_group.command("telegram-export")
@click.argument("path", type=click.Path(path_type=Path, exists=True))
@click.pass_context
def import_telegram_export(ctx: click.Context, path: Path) -> None:
    """Import a Telegram Desktop JSON export (folder with result.json and media)."""
    settings = settings_of(ctx)
    with (
        build.open_journal(settings) as journal,
        build.open_store(settings) as store,
        progress_bar(unit="message") as progress,
    ):
        blobs = BlobTarget(
            store,
            build.layout(settings),
            settings.archive.retention_mode,
            settings.archive.retention_days,
        )
        workspace = settings.telegram.bot_id or "export"
        report = export_import.import_telegram_export(
            journal, path, blobs=blobs, workspace=workspace, progress=progress
        )
    click.echo(
        f"chats: {report.chats}  messages: {report.messages}  new: {report.new}  "
        f"already archived: {report.duplicates}  skipped (no date_unixtime): {report.skipped}"
    )
    if report.attachments:
        states = ", ".join(f"{k} {v}" for k, v in sorted(report.attachments.items()))
        click.echo(f"files: {states}")


@completeness_group.command("telegram")
@click.option("--json", "as_json", is_flag=True, help="Print as JSON.")
@click.pass_context
def completeness_telegram(ctx: click.Context, as_json: bool) -> None:
    """Report message_id gaps (messages never seen) in supergroups and channels."""
    settings = settings_of(ctx)
    with build.open_journal(settings) as journal:
        gaps = journal_gaps(journal)
    if as_json:
        click.echo(json.dumps([asdict(g) for g in gaps], indent=2))
        return
    if not gaps:
        click.echo("no Telegram supergroup or channel messages in the journal")
    for chat in gaps:
        click.echo(
            f"{chat.conversation} ({chat.name or '?'}): ids {chat.first}..{chat.last}, "
            f"seen {chat.seen}, missing {chat.missing}"
        )
        for first, last in chat.ranges[:20]:
            click.echo(f"  missing {first}" if first == last else f"  missing {first}..{last}")
        if len(chat.ranges) > 20:
            click.echo(f"  ... and {len(chat.ranges) - 20} more ranges")
