"""Slack commands: ``import slack-export``, ``backfill slack``, ``completeness slack``."""

from __future__ import annotations

import asyncio
from contextlib import AbstractContextManager
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any

import click

from archive.errors import ConfigError
from archive.journal import Journal
from bots.slack.backfill import backfill_channel, history_client
from bots.slack.export_import import import_slack_export
from bots.slack.reconciliation import reconcile_channel, reconcile_monitored
from bots.slack.settings import SlackSettings
from chatkeeper.runtime import open_journal
from chatkeeper.settings import Settings


def _settings(ctx: click.Context) -> Settings:
    settings: Settings = ctx.find_root().obj.settings
    return settings


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


def _api(slack: SlackSettings) -> None:
    if not slack.bot_token:
        raise ConfigError("slack.bot_token is required to call the Slack Web API")


async def _team(slack: SlackSettings, team: str | None) -> str:
    if team:
        return team
    response = await history_client(slack.bot_token, slack.api_base_url).auth_test()
    return str(response.get("team_id", ""))


def register(cli: click.Group) -> None:
    import_group = cli.commands["import"]
    backfill_group = cli.commands["backfill"]
    completeness_group = cli.commands.get("completeness")
    if not isinstance(completeness_group, click.Group):

        @cli.group(name="completeness")
        def completeness_group_() -> None:
            """Report what the archive may be missing, per platform."""

        completeness_group = completeness_group_
    assert isinstance(import_group, click.Group) and isinstance(backfill_group, click.Group)

    @import_group.command(name="slack-export")
    @click.argument("path", type=click.Path(path_type=Path, dir_okay=False, exists=True))
    @click.option("--team", default=None, help="Slack team id (default: from users.json).")
    @click.pass_context
    def import_slack(ctx: click.Context, path: Path, team: str | None) -> None:
        """Import a Slack workspace export zip (idempotent; safe against zip-slip)."""
        settings = _settings(ctx)
        with _journal(settings) as journal:
            summary = import_slack_export(
                journal,
                path,
                team=team,
                max_entry_bytes=settings.slack.import_max_entry_bytes,
                max_total_bytes=settings.slack.import_max_total_bytes,
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
    @click.option(
        "--channel", "channels", multiple=True, required=True, help="Conversation id (repeatable)."
    )
    @click.option("--since", default=None, help="ISO date (default: slack.backfill_days ago).")
    @click.option("--team", default=None, help="Slack team id (default: from auth.test).")
    @click.pass_context
    def backfill_slack(
        ctx: click.Context, channels: tuple[str, ...], since: str | None, team: str | None
    ) -> None:
        """Fetch history with conversations.history/replies; dedupes against live capture."""
        settings = _settings(ctx)
        slack = settings.slack
        _api(slack)
        oldest = _since(since, slack.backfill_days)

        async def run() -> list[Any]:
            with _journal(settings) as journal:
                workspace = await _team(slack, team)
                client = history_client(slack.bot_token, slack.api_base_url)
                return [
                    await backfill_channel(
                        journal,
                        client,
                        team=workspace,
                        channel=channel,
                        oldest=oldest,
                        page_size=slack.backfill_page_size,
                        requests_per_minute=slack.backfill_requests_per_minute,
                    )
                    for channel in channels
                ]

        for run_ in asyncio.run(run()):
            click.echo(
                f"{run_.channel}: {run_.fetched} messages fetched, {run_.new} new, {run_.duplicates} already archived"
            )

    @completeness_group.command(name="slack")
    @click.option(
        "--channel",
        "channels",
        multiple=True,
        help="Conversation id (repeatable; default: every captured one).",
    )
    @click.option("--since", default=None, help="ISO date (default: slack.reconcile_days ago).")
    @click.option("--team", default=None, help="Slack team id (default: from auth.test).")
    @click.pass_context
    def completeness_slack(
        ctx: click.Context, channels: tuple[str, ...], since: str | None, team: str | None
    ) -> None:
        """Compare recent history with the journal: recover what was missed, report what cannot be."""
        settings = _settings(ctx)
        slack = settings.slack
        _api(slack)
        oldest = _since(since, slack.reconcile_days)

        async def run() -> list[Any]:
            with _journal(settings) as journal:
                client = history_client(slack.bot_token, slack.api_base_url)
                if not channels:
                    return await reconcile_monitored(
                        journal,
                        client,
                        since=oldest,
                        page_size=slack.backfill_page_size,
                        requests_per_minute=slack.backfill_requests_per_minute,
                    )
                workspace = await _team(slack, team)
                return [
                    await reconcile_channel(
                        journal,
                        client,
                        team=workspace,
                        channel=channel,
                        since=oldest,
                        page_size=slack.backfill_page_size,
                        requests_per_minute=slack.backfill_requests_per_minute,
                    )
                    for channel in channels
                ]

        for report in asyncio.run(run()):
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
