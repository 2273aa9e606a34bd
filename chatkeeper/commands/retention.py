"""The ``retention`` group: ``retention extend`` (Object Lock never shortens), sealed."""

from __future__ import annotations

import socket

import click

from archive.clock import SystemClock
from archive.retention import extend_retention
from chatkeeper import build
from chatkeeper.commands.group import cli, officer_of, officer_option, parse_when, settings_of


@cli.group("retention")
def retention_group() -> None:
    """Retention of sealed bundles (extend only: Object Lock never shortens)."""


@retention_group.command("extend")
@click.option("--bundle", "bundles", type=int, multiple=True, required=True, help="Repeatable.")
@click.option("--until", "until", required=True, help="New retain-until (ISO date or time, UTC).")
@officer_option()
@click.pass_context
def retention_extend_command(
    ctx: click.Context, bundles: tuple[int, ...], until: str, officer: str | None
) -> None:
    """Lock every object of the bundles until at least --until; the extension is sealed."""
    settings = settings_of(ctx)
    moment = parse_when(until, "--until")
    clock = SystemClock()
    with build.open_journal(settings) as journal, build.open_store(settings) as store:
        result = extend_retention(
            journal,
            store,
            build.signer(settings),
            build.seal_policy(settings),
            list(bundles),
            moment,
            officer_of(officer, clock),
            clock,
            holder=f"{socket.gethostname()}:retention",
            lease_seconds=settings.schedule.lease_seconds,
        )
    click.echo(
        f"retention extended to {moment.isoformat()}: {result.objects} objects moved, "
        f"{result.unchanged} already locked longer, {result.missing} absent (disposed)"
    )
