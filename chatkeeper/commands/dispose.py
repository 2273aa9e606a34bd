"""``dispose``: delete expired, unheld records objects and blobs under a sealed certificate.

``--dry-run`` plans with the auditor's identity and deletes nothing; ``dispose``
plans and deletes with the ``disposition`` identity and seals the certificate
first, through the archiver's.
"""

from __future__ import annotations

import json
import socket

import click

from archive.clock import SystemClock
from archive.disposition import DispositionPlan, dispose, plan_disposition
from chatkeeper import build
from chatkeeper.commands.group import cli, officer_of, officer_option, settings_of


def _print_plan(plan: DispositionPlan) -> None:
    for obj in plan.records:
        click.echo(
            f"bundle {obj.bundle}: {obj.record_count} records, retain-until {obj.retain_until} "
            f"(rule {obj.rule}), {obj.key} version {obj.version_id}"
        )
        for conversation, count in obj.conversations.items():
            click.echo(f"    {conversation}: {count} records")
    for obj in plan.blobs:
        bundles = ", ".join(str(b) for b in obj.bundles)
        click.echo(f"blob {obj.sha256} (bundles {bundles}), retain-until {obj.retain_until}")
    for key, version in plan.pending:
        click.echo(f"certified earlier, still present: {key} version {version}")


@cli.command("dispose")
@click.option("--dry-run", is_flag=True, help="List what would be disposed of; delete nothing.")
@click.option("--json", "as_json", is_flag=True, help="Machine-readable output.")
@officer_option()
@click.pass_context
def dispose_command(ctx: click.Context, dry_run: bool, as_json: bool, officer: str | None) -> None:
    """Delete expired, unheld records objects and blobs; seal a disposition certificate."""
    settings = settings_of(ctx)
    clock = SystemClock()
    if dry_run:
        with build.open_store(settings, role="auditor") as store:
            plan = plan_disposition(store, build.layout(settings), clock.now())
        if as_json:
            click.echo(json.dumps(plan.to_json(), indent=2))
        else:
            _print_plan(plan)
            click.echo(
                f"would dispose of {len(plan.records)} records objects and {len(plan.blobs)} "
                "blobs (manifests are kept)"
            )
        return
    with (
        build.open_journal(settings) as journal,
        build.open_store(settings) as store,
        build.open_store(settings, role="disposition") as disposer,
    ):
        certificate = dispose(
            journal,
            store,
            disposer,
            build.signer(settings),
            build.seal_policy(settings),
            clock,
            officer_of(officer, clock),
            holder=f"{socket.gethostname()}:dispose",
            lease_seconds=settings.schedule.lease_seconds,
        )
    if certificate is None:
        click.echo("nothing to dispose of")
        return
    if as_json:
        click.echo(json.dumps(certificate.payload, indent=2))
    click.echo(
        f"disposed of {certificate.deleted} object versions; certificate sealed "
        f"({len(certificate.payload.get('records_objects', []))} records objects, "
        f"{len(certificate.payload.get('blobs', []))} blobs)"
    )
