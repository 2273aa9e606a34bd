"""The ``hold`` group: legal hold by matter.

``hold create`` and ``hold release`` place and remove S3 Object Lock legal holds
with the ``legal`` identity and seal each step through the archiver's; ``hold
list`` and ``hold show`` read the sealed matters with the auditor's.
"""

from __future__ import annotations

import json
from collections.abc import Iterator
from contextlib import contextmanager

import click

from archive.clock import Clock, SystemClock
from archive.errors import ConfigError
from archive.holds import HoldContext, create_hold, load_matters, release_hold
from archive.matters import Matter, Scope
from chatkeeper import build
from chatkeeper.commands.group import cli, officer_of, officer_option, parse_when, settings_of
from chatkeeper.settings import Settings


@contextmanager
def _hold_context(settings: Settings, clock: Clock) -> Iterator[HoldContext]:
    with (
        build.open_journal(settings) as journal,
        build.open_store(settings) as store,
        build.open_store(settings, role="legal") as legal,
    ):
        yield build.hold_context(settings, journal, store, legal, clock)


@cli.group("hold")
def hold_group() -> None:
    """Legal hold by matter (S3 Object Lock legal hold on every covered object)."""


@hold_group.command("create")
@click.argument("matter")
@click.option("--conversation", multiple=True, help="Channel/chat id; repeatable.")
@click.option("--participant", multiple=True, help="User id of a participant; repeatable.")
@click.option("--platform", multiple=True, type=click.Choice(["slack", "telegram"]))
@click.option("--from", "start", help="Earliest occurred_at (ISO date or time, UTC).")
@click.option("--to", "end", help="Latest occurred_at (ISO date or time, UTC).")
@officer_option()
@click.pass_context
def hold_create_command(
    ctx: click.Context,
    matter: str,
    conversation: tuple[str, ...],
    participant: tuple[str, ...],
    platform: tuple[str, ...],
    start: str | None,
    end: str | None,
    officer: str | None,
) -> None:
    """Open MATTER: turn legal hold ON for every object holding an in-scope record."""
    settings = settings_of(ctx)
    scope = Scope(
        conversation,
        participant,
        platform,
        parse_when(start, "--from") if start is not None else None,
        parse_when(end, "--to") if end is not None else None,
    )
    clock = SystemClock()
    with _hold_context(settings, clock) as hold:
        opened = create_hold(hold, matter, scope, officer_of(officer, clock))
    click.echo(f"matter {matter!r} is open: {len(opened.objects)} objects under legal hold")


@hold_group.command("release")
@click.argument("matter")
@officer_option()
@click.pass_context
def hold_release_command(ctx: click.Context, matter: str, officer: str | None) -> None:
    """Close MATTER: legal hold OFF on its objects that no other open matter covers."""
    settings = settings_of(ctx)
    clock = SystemClock()
    with _hold_context(settings, clock) as hold:
        released, kept = release_hold(hold, matter, officer_of(officer, clock))
    click.echo(
        f"matter {matter!r} released: hold removed from {released} objects, "
        f"{kept} stay held by other open matters"
    )


def _matter_json(matter: Matter) -> dict[str, object]:
    return {
        "matter": matter.name,
        "open": matter.open,
        "scope": matter.scope.to_dict(),
        "created_at": matter.created_at,
        "created_by": matter.created_by,
        "released_at": matter.released_at,
        "released_by": matter.released_by,
        "objects": [
            {"key": k, "version_id": v, "bundle": b} for (k, v), b in sorted(matter.objects.items())
        ],
    }


@hold_group.command("list")
@click.option("--json", "as_json", is_flag=True, help="Machine-readable output.")
@click.pass_context
def hold_list_command(ctx: click.Context, as_json: bool) -> None:
    """List every matter sealed in the archive, open or released."""
    settings = settings_of(ctx)
    with build.open_store(settings, role="auditor") as store:
        matters = load_matters(store, build.layout(settings))
    if as_json:
        click.echo(json.dumps([_matter_json(m) for m in matters.values()], indent=2))
        return
    for m in matters.values():
        state = "open" if m.open else f"released {m.released_at} by {m.released_by}"
        click.echo(
            f"{m.name}\t{state}\t{len(m.objects)} objects\tcreated {m.created_at} by {m.created_by}"
        )
    if not matters:
        click.echo("no matters")


@hold_group.command("show")
@click.argument("matter")
@click.pass_context
def hold_show_command(ctx: click.Context, matter: str) -> None:
    """Show MATTER's scope, history and held objects (JSON)."""
    settings = settings_of(ctx)
    with build.open_store(settings, role="auditor") as store:
        found = load_matters(store, build.layout(settings)).get(matter)
    if found is None:
        raise ConfigError(f"no matter {matter!r} in the archive")
    click.echo(json.dumps(_matter_json(found), indent=2))
