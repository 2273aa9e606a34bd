"""Slack commands: ``import slack-export``, ``backfill slack``, ``completeness slack``."""

from __future__ import annotations

import asyncio
from collections.abc import Awaitable, Callable
from contextlib import AbstractContextManager
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any, TypedDict, TypeVar, cast

import click
from slack_sdk.web.async_client import AsyncWebClient

from archive.errors import ConfigError
from archive.journal import Journal
from bots.slack.backfill import HistoryRun, backfill_channel, history_client
from bots.slack.completeness import CompletenessReport, reconcile_channel, reconcile_monitored
from bots.slack.export_import import import_slack_export
from bots.slack.settings import SlackSettings
from chatkeeper.build import open_journal
from chatkeeper.commands.group import backfill_group, completeness_group, import_group, settings_of
from chatkeeper.progress import progress_bar
from chatkeeper.settings import Settings

FC = TypeVar("FC", bound=Callable[..., Any])
T = TypeVar("T")


def _journal(settings: Settings) -> AbstractContextManager[Journal]:
    if not settings.journal.dsn:
        settings.journal_path.parent.mkdir(parents=True, exist_ok=True)
    return open_journal(settings)


def _since(value: str | None, default_days: int) -> datetime:
    if value is None:
        return datetime.now(UTC) - timedelta(days=default_days)
    try:
        moment = datetime.fromisoformat(value)
    except ValueError as exc:
        raise click.BadParameter(f"{value!r} is not a date like 2026-01-31") from exc
    return moment if moment.tzinfo else moment.replace(tzinfo=UTC)


def _history_command(
    ctx: click.Context, since: str | None, default_days: Callable[[SlackSettings], int]
) -> tuple[Settings, datetime]:
    """The settings and the oldest moment to read; ConfigError (exit 2) without a bot token."""
    settings = settings_of(ctx)
    if not settings.slack.bot_token:
        raise ConfigError("slack.bot_token is required to call the Slack Web API")
    return settings, _since(since, default_days(settings.slack))


async def _team(slack: SlackSettings, team: str | None) -> str:
    if team:
        return team
    response = await history_client(slack.bot_token, slack.api_base_url).auth_test()
    return str(response.get("team_id", ""))


def _read_history(
    settings: Settings, read: Callable[[Journal, AsyncWebClient], Awaitable[list[T]]]
) -> list[T]:
    """Run ``read`` with the journal and a Web API client that waits out rate limits."""

    async def run() -> list[T]:
        with _journal(settings) as journal:
            return await read(
                journal, history_client(settings.slack.bot_token, settings.slack.api_base_url)
            )

    return asyncio.run(run())


async def _each_channel(
    slack: SlackSettings,
    team: str | None,
    channels: tuple[str, ...],
    read: Callable[[str, str], Awaitable[T]],
) -> list[T]:
    """``read(workspace, channel)`` for each channel in turn, in the given or auth.test team."""
    workspace = await _team(slack, team)
    return [await read(workspace, channel) for channel in channels]


class _Pace(TypedDict):
    page_size: int
    requests_per_minute: float


def _pace(slack: SlackSettings) -> _Pace:
    """How fast history is read: page size and requests per minute (backfill and completeness)."""
    return _Pace(
        page_size=slack.backfill_page_size,
        requests_per_minute=slack.backfill_requests_per_minute,
    )


def _history_options(channels: str, *, required: bool, days: str) -> Callable[[FC], FC]:
    """``--channel`` (repeatable), ``--since`` and ``--team``, and the context: backfill, completeness."""

    def apply(command: FC) -> FC:
        decorated: Any = click.pass_context(command)
        for option in (
            click.option("--team", default=None, help="Slack team id (default: from auth.test)."),
            click.option("--since", default=None, help=f"ISO date (default: {days} ago)."),
            click.option("--channel", "channels", multiple=True, required=required, help=channels),
        ):
            decorated = option(decorated)
        return cast(FC, decorated)

    return apply


@import_group.command(name="slack-export")
@click.argument("path", type=click.Path(path_type=Path, dir_okay=False, exists=True))
@click.option("--team", default=None, help="Slack team id (default: from users.json).")
@click.pass_context
def import_slack(ctx: click.Context, path: Path, team: str | None) -> None:
    """Import a Slack workspace export zip (idempotent; safe against zip-slip)."""
    settings = settings_of(ctx)
    with _journal(settings) as journal, progress_bar(unit="file") as progress:
        summary = import_slack_export(
            journal,
            path,
            team=team,
            max_entry_bytes=settings.slack.import_max_entry_bytes,
            max_total_bytes=settings.slack.import_max_total_bytes,
            progress=progress,
        )
    click.echo(
        f"imported {summary.messages} messages from {summary.conversations} conversations: "
        f"{summary.new} new, {summary.duplicates} already archived"
    )
    for refused in summary.refused:
        click.echo(f"refused entry {refused}", err=True)
    for skipped in summary.skipped:
        click.echo(f"skipped conversation {skipped}", err=True)


@backfill_group.command(name="slack")
@_history_options("Conversation id (repeatable).", required=True, days="slack.backfill_days")
def backfill_slack(
    ctx: click.Context, channels: tuple[str, ...], since: str | None, team: str | None
) -> None:
    """Fetch history with conversations.history/replies; dedupes against live capture."""
    settings, oldest = _history_command(ctx, since, lambda s: s.backfill_days)
    slack = settings.slack

    async def read(journal: Journal, client: AsyncWebClient) -> list[HistoryRun]:
        return await _each_channel(
            slack,
            team,
            channels,
            lambda workspace, channel: backfill_channel(
                journal,
                client,
                team=workspace,
                channel=channel,
                oldest=oldest,
                progress=progress,
                **_pace(slack),
            ),
        )

    with progress_bar(unit="message") as progress:
        runs = _read_history(settings, read)
    for run_ in runs:
        click.echo(
            f"{run_.channel}: {run_.fetched} messages fetched, {run_.new} new, {run_.duplicates} already archived"
        )


@completeness_group.command(name="slack")
@_history_options(
    "Conversation id (repeatable; default: every captured one).",
    required=False,
    days="slack.reconcile_days",
)
def completeness_slack(
    ctx: click.Context, channels: tuple[str, ...], since: str | None, team: str | None
) -> None:
    """Compare recent history with the journal: recover what was missed, report what cannot be."""
    settings, oldest = _history_command(ctx, since, lambda s: s.reconcile_days)
    slack = settings.slack

    async def read(journal: Journal, client: AsyncWebClient) -> list[CompletenessReport]:
        if not channels:
            return await reconcile_monitored(journal, client, since=oldest, **_pace(slack))
        return await _each_channel(
            slack,
            team,
            channels,
            lambda workspace, channel: reconcile_channel(
                journal, client, team=workspace, channel=channel, since=oldest, **_pace(slack)
            ),
        )

    reports = _read_history(settings, read)
    if not reports:
        click.echo("no Slack conversation has capture turned on: nothing to reconcile")
    for report in reports:
        click.echo(
            f"{report.channel}: {report.checked} messages in history since {report.since:%Y-%m-%d}"
        )
        click.echo(f"  recovered now (missed live): {len(report.recovered)}")
        click.echo(
            f"  edited while not capturing (earlier text lost): {len(report.unrecoverable_edits)}"
        )
        click.echo(
            f"  deleted while not capturing (not in history): {len(report.unrecoverable_deletes)}"
        )
        for ts in report.unrecoverable_edits:
            click.echo(f"    edit lost: ts={ts}")
        for ts in report.unrecoverable_deletes:
            click.echo(f"    deletion not captured: ts={ts}")
