"""``chatkeeper attachments repair``: fetch again attachments stored short or empty.

Exit codes: 0 when every short attachment was repaired (or none was found, or
``--dry-run``), 3 when some could not be fetched again (the archive still holds
them short: ``verify --deep`` keeps reporting them), 1/2/4 as everywhere.
"""

from __future__ import annotations

import asyncio
import contextlib
import json
import sys
from collections.abc import AsyncIterator
from typing import Any

import click
from tqdm import tqdm

from archive.attachment_repair import (
    DetailsFor,
    RepairOutcome,
    ShortAttachment,
    find_short_attachments,
    repair_one,
)
from archive.attachments import AttachmentFetcher, Downloader, FetchPolicy
from archive.clock import SystemClock
from archive.errors import IntegrityError
from archive.journal import Journal
from archive.store import ArchiveStore
from chatkeeper import build
from chatkeeper.commands.group import cli, settings_of
from chatkeeper.settings import Settings


@cli.group("attachments")
def attachments_group() -> None:
    """Inspect and repair stored attachments."""


@contextlib.asynccontextmanager
async def _platforms(
    settings: Settings,
) -> AsyncIterator[tuple[dict[str, Downloader], dict[str, DetailsFor]]]:
    """The downloaders the bots use, for the platforms that are configured."""
    downloaders: dict[str, Downloader] = {}
    details: dict[str, DetailsFor] = {}
    async with contextlib.AsyncExitStack() as stack:
        if settings.slack.enabled and settings.slack.bot_token:
            from bots.slack.bot import web_client
            from bots.slack.files import SlackFileDownloader
            from bots.slack.files import repair_task_details as slack_details

            s = settings.slack
            downloaders["slack"] = SlackFileDownloader(web_client(s), s.bot_token, s.file_hosts)
            details["slack"] = slack_details
        if settings.telegram.token:
            from bots.telegram.files import repair_task_details as telegram_details
            from bots.telegram.files import standalone_downloader

            downloader = standalone_downloader(settings.telegram)
            downloaders["telegram"] = await stack.enter_async_context(downloader)
            details["telegram"] = telegram_details
        yield downloaders, details


async def _repair(
    settings: Settings, journal: Journal, store: ArchiveStore, items: list[ShortAttachment]
) -> list[RepairOutcome]:
    async with _platforms(settings) as (downloaders, details):
        fetcher = AttachmentFetcher(
            journal,
            store,
            downloaders,
            FetchPolicy(
                layout=build.layout(settings),
                max_bytes=settings.capture.attachment_max_bytes,
                retention_mode=settings.archive.retention_mode,
                retention_days=settings.archive.retention_days,
            ),
            SystemClock(),
        )
        bar: tqdm[Any] = tqdm(
            total=len(items), unit="file", disable=not sys.stderr.isatty(), file=sys.stderr
        )
        outcomes = []
        for item in items:
            outcomes.append(await repair_one(journal, fetcher, details, item))
            bar.update(1)
        bar.close()
        return outcomes


def _line(item: ShortAttachment) -> str:
    copy = item.copy
    return (
        f"{copy.platform} {copy.conversation} file {copy.file[1]} of record {copy.file[0]}:"
        f" stored {item.stored} of {item.declared} bytes"
    )


@attachments_group.command("repair")
@click.option("--dry-run", is_flag=True, help="Only list the attachments stored short.")
@click.option("--json", "as_json", is_flag=True, help="Print the result as JSON.")
@click.pass_context
def repair_command(ctx: click.Context, dry_run: bool, as_json: bool) -> None:
    """Fetch again attachments stored with fewer bytes than their platform declared.

    Exit 0 all repaired (or nothing to do), 3 some could no longer be fetched.
    """
    settings = settings_of(ctx)
    with build.open_journal(settings) as journal:
        items = find_short_attachments(journal)
        if dry_run or not items:
            _print_found(items, as_json)
            return
        with build.open_store(settings) as store:
            outcomes = asyncio.run(_repair(settings, journal, store, items))
    _print_outcomes(outcomes, as_json)
    failed = sum(1 for o in outcomes if not o.repaired)
    if failed:
        raise IntegrityError(
            f"{failed} attachment(s) could not be fetched again; the archive still holds them short"
        )


def _print_found(items: list[ShortAttachment], as_json: bool) -> None:
    if as_json:
        click.echo(json.dumps({"found": [RepairOutcome(i, False).to_json() for i in items]}))
        return
    for item in items:
        click.echo(f"short: {_line(item)}")
    click.echo(f"attachments stored short: {len(items)}")


def _print_outcomes(outcomes: list[RepairOutcome], as_json: bool) -> None:
    repaired = [o for o in outcomes if o.repaired]
    failed = [o for o in outcomes if not o.repaired]
    if as_json:
        click.echo(
            json.dumps(
                {
                    "repaired": [o.to_json() for o in repaired],
                    "unrepaired": [o.to_json() for o in failed],
                },
                indent=2,
            )
        )
        return
    for outcome in repaired:
        click.echo(f"repaired: {_line(outcome.item)}")
    for outcome in failed:
        click.echo(f"no longer fetchable: {_line(outcome.item)}: {outcome.reason}")
    click.echo(f"repaired: {len(repaired)}  no longer fetchable: {len(failed)}")
