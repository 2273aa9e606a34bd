"""Records-team commands: ``hold``, ``prove`` and ``verify-proof``.

Each duty opens the S3 identity it needs: holds the ``legal`` one (and the
archiver's, to seal the hold records), proofs the ``auditor``'s.
"""

from __future__ import annotations

import getpass
import json
import socket
from collections.abc import Iterator, Mapping, Sequence
from contextlib import contextmanager
from datetime import UTC, datetime
from pathlib import Path

import click
import structlog

from archive.bundle import Layout
from archive.clock import Clock, SystemClock
from archive.disposition import DispositionPlan, dispose, plan_disposition
from archive.errors import ChatkeeperError, ConfigError
from archive.holds import (
    HoldContext,
    Officer,
    create_hold,
    hold_new_bundles,
    load_matters,
    release_hold,
)
from archive.journal import BundleRow, Journal
from archive.keys import load_public_keys
from archive.logs import configure
from archive.matters import Matter, Scope
from archive.proof import Prover, Target, build_proof, proof_bytes
from archive.proof_check import verify_proof
from archive.retention import extend_retention
from archive.store import ArchiveStore
from chatkeeper import runtime
from chatkeeper.commands_core import trusted_keys
from chatkeeper.context import AppContext
from chatkeeper.settings import Settings
from exporters.pipeline import ProofSource

log = structlog.get_logger("chatkeeper.records")


def _settings(ctx: click.Context) -> Settings:
    app: AppContext = ctx.obj
    configure(app.settings.log.level, app.settings.log.format)
    return app.settings


def _target(
    record_key: str | None, platform: str | None, conversation: str | None, message_id: str | None
) -> Target:
    by_message = (platform, conversation, message_id)
    if record_key and not any(by_message):
        return Target(record_key=record_key.lower())
    if not record_key and all(by_message):
        return Target(platform=platform, conversation=conversation, message_id=message_id)
    raise ConfigError(
        "name the record by --record-key, or by --platform, --conversation and --message-id"
    )


def proof_source(store: ArchiveStore, layout: Layout) -> ProofSource:
    """For ``export --with-proofs``: proofs of the exported messages, one download per bundle."""
    prover = Prover(store, layout)

    def prove(wanted: Mapping[int, set[str]]) -> Iterator[tuple[str, bytes]]:
        for number in sorted(wanted):
            for proof in prover.prove_keys(number, wanted[number]):
                yield proof["record_key"], proof_bytes(proof)

    return prove


@click.command("prove")
@click.option("--record-key", help="The record's key (64 hex digits).")
@click.option("--platform", type=click.Choice(["slack", "telegram"]), help="With --message-id.")
@click.option("--conversation", help="Channel or chat id (with --message-id).")
@click.option("--message-id", help="Slack ts or Telegram message id of the original message.")
@click.option(
    "--out", type=click.Path(path_type=Path, dir_okay=False), required=True, help="Proof file."
)
@click.option(
    "--public-key",
    "public_keys",
    type=click.Path(path_type=Path, dir_okay=False, exists=True),
    multiple=True,
    help="Trusted key to check the proof under before writing it (as for verify).",
)
@click.pass_context
def prove_command(
    ctx: click.Context,
    record_key: str | None,
    platform: str | None,
    conversation: str | None,
    message_id: str | None,
    out: Path,
    public_keys: tuple[Path, ...],
) -> None:
    """Write a self-contained proof that one sealed record is in the archive."""
    settings = _settings(ctx)
    target = _target(record_key, platform, conversation, message_id)
    with runtime.open_store(settings, role="auditor") as store:
        proof = build_proof(store, runtime.layout(settings), target)
        keys, _ = trusted_keys(settings, public_keys, store)
    data = proof_bytes(proof)
    proven = verify_proof(data, keys)  # never hand out a proof that does not verify
    out.write_bytes(data)
    click.echo(
        f"proof of record {proof['record_key']} (bundle {proven.bundle}, seq {proven.seq}, "
        f"checkpoint {proven.checkpoint}) written to {out}"
    )


@click.command("verify-proof")
@click.argument("proof_file", type=click.Path(path_type=Path, dir_okay=False, exists=True))
@click.option(
    "--public-key",
    "public_keys",
    type=click.Path(path_type=Path, dir_okay=False, exists=True),
    multiple=True,
    required=True,
    help="Pinned signing key (.pub.json); repeatable.",
)
def verify_proof_command(proof_file: Path, public_keys: tuple[Path, ...]) -> None:
    """Check a proof file offline, with no access to the archive (exit 3 if it fails)."""
    proven = verify_proof(proof_file.read_bytes(), load_public_keys(list(public_keys)))
    record = proven.record
    click.echo(f"PROOF VALID: record {record.get('key')} is sealed in stream {proven.stream!r}")
    click.echo(f"  bundle {proven.bundle}, seq {proven.seq}, kind {record.get('kind')}")
    click.echo(
        f"  {record.get('platform')} conversation {record.get('conversation')}, "
        f"message {record.get('message_id')}, occurred {record.get('occurred_at')}"
    )
    click.echo(f"  chained to checkpoint {proven.checkpoint} of {proven.checkpoint_created_at}")


def _officer(name: str | None, clock: Clock) -> Officer:
    return Officer(name or getpass.getuser(), clock.now())


@contextmanager
def _hold_context(settings: Settings, clock: Clock) -> Iterator[HoldContext]:
    with (
        runtime.open_journal(settings) as journal,
        runtime.open_store(settings) as store,
        runtime.open_store(settings, role="legal") as legal,
    ):
        yield HoldContext(
            journal,
            store,
            legal,
            runtime.signer(settings),
            runtime.seal_policy(settings),
            clock,
            holder=f"{socket.gethostname()}:hold",
            lease_seconds=settings.schedule.lease_seconds,
        )


def hold_after_seal(
    settings: Settings, journal: Journal, store: ArchiveStore, rows: Sequence[BundleRow]
) -> int:
    """After ``seal``: hold new bundles in an open matter's scope (0 if no matter is open)."""
    layout = runtime.layout(settings)
    if not rows or not any(m.open for m in load_matters(store, layout).values()):
        return 0
    clock = SystemClock()
    with runtime.open_store(settings, role="legal") as legal:
        ctx = HoldContext(
            journal, store, legal, runtime.signer(settings), runtime.seal_policy(settings), clock
        )
        return hold_new_bundles(ctx, rows, Officer("chatkeeper seal", clock.now()))


def seal_time_holds(
    settings: Settings, journal: Journal, store: ArchiveStore, rows: Sequence[BundleRow]
) -> int:
    """``hold_after_seal`` for ``serve``'s scheduled sealing: a failure is logged, not raised.

    The bundles are sealed either way; ``verify`` reports any covered object left without
    its hold, and the next ``chatkeeper seal`` or ``hold create`` does not repair it by itself.
    """
    try:
        return hold_after_seal(settings, journal, store, rows)
    except ChatkeeperError as exc:
        log.error("hold.seal_time_failed", error=str(exc), bundles=[r.number for r in rows])
        return 0


def _moment(text: str | None, option: str) -> datetime | None:
    if text is None:
        return None
    try:
        moment = datetime.fromisoformat(text.replace("Z", "+00:00"))
    except ValueError as exc:
        raise ConfigError(f"{option} {text!r}: give a date or time such as 2026-01-31") from exc
    return moment if moment.tzinfo else moment.replace(tzinfo=UTC)


@click.group("hold")
def hold_group() -> None:
    """Legal hold by matter (S3 Object Lock legal hold on every covered object)."""


_OFFICER = click.option("--officer", help="Who acts (default: the login name); sealed with it.")


@hold_group.command("create")
@click.argument("matter")
@click.option("--conversation", multiple=True, help="Channel/chat id; repeatable.")
@click.option("--participant", multiple=True, help="User id of a participant; repeatable.")
@click.option("--platform", multiple=True, type=click.Choice(["slack", "telegram"]))
@click.option("--from", "start", help="Earliest occurred_at (ISO date or time, UTC).")
@click.option("--to", "end", help="Latest occurred_at (ISO date or time, UTC).")
@_OFFICER
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
    settings = _settings(ctx)
    scope = Scope(
        conversation, participant, platform, _moment(start, "--from"), _moment(end, "--to")
    )
    clock = SystemClock()
    with _hold_context(settings, clock) as hold:
        opened = create_hold(hold, matter, scope, _officer(officer, clock))
    click.echo(f"matter {matter!r} is open: {len(opened.objects)} objects under legal hold")


@hold_group.command("release")
@click.argument("matter")
@_OFFICER
@click.pass_context
def hold_release_command(ctx: click.Context, matter: str, officer: str | None) -> None:
    """Close MATTER: legal hold OFF on its objects that no other open matter covers."""
    settings = _settings(ctx)
    clock = SystemClock()
    with _hold_context(settings, clock) as hold:
        released, kept = release_hold(hold, matter, _officer(officer, clock))
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
    settings = _settings(ctx)
    with runtime.open_store(settings, role="auditor") as store:
        matters = load_matters(store, runtime.layout(settings))
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
    settings = _settings(ctx)
    with runtime.open_store(settings, role="auditor") as store:
        found = load_matters(store, runtime.layout(settings)).get(matter)
    if found is None:
        raise ConfigError(f"no matter {matter!r} in the archive")
    click.echo(json.dumps(_matter_json(found), indent=2))


@click.group("retention")
def retention_group() -> None:
    """Retention of sealed bundles (extend only: Object Lock never shortens)."""


@retention_group.command("extend")
@click.option("--bundle", "bundles", type=int, multiple=True, required=True, help="Repeatable.")
@click.option("--until", "until", required=True, help="New retain-until (ISO date or time, UTC).")
@_OFFICER
@click.pass_context
def retention_extend_command(
    ctx: click.Context, bundles: tuple[int, ...], until: str, officer: str | None
) -> None:
    """Lock every object of the bundles until at least --until; the extension is sealed."""
    settings = _settings(ctx)
    moment = _moment(until, "--until")
    assert moment is not None
    clock = SystemClock()
    with runtime.open_journal(settings) as journal, runtime.open_store(settings) as store:
        result = extend_retention(
            journal,
            store,
            runtime.signer(settings),
            runtime.seal_policy(settings),
            list(bundles),
            moment,
            _officer(officer, clock),
            clock,
            holder=f"{socket.gethostname()}:retention",
            lease_seconds=settings.schedule.lease_seconds,
        )
    click.echo(
        f"retention extended to {moment.isoformat()}: {result.objects} objects moved, "
        f"{result.unchanged} already locked longer, {result.missing} absent (disposed)"
    )


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


@click.command("dispose")
@click.option("--dry-run", is_flag=True, help="List what would be disposed of; delete nothing.")
@click.option("--json", "as_json", is_flag=True, help="Machine-readable output.")
@_OFFICER
@click.pass_context
def dispose_command(ctx: click.Context, dry_run: bool, as_json: bool, officer: str | None) -> None:
    """Delete expired, unheld records objects and blobs; seal a disposition certificate."""
    settings = _settings(ctx)
    clock = SystemClock()
    if dry_run:
        with runtime.open_store(settings, role="auditor") as store:
            plan = plan_disposition(store, runtime.layout(settings), clock.now())
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
        runtime.open_journal(settings) as journal,
        runtime.open_store(settings) as store,
        runtime.open_store(settings, role="disposition") as disposer,
    ):
        certificate = dispose(
            journal,
            store,
            disposer,
            runtime.signer(settings),
            runtime.seal_policy(settings),
            clock,
            _officer(officer, clock),
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


def register(cli: click.Group) -> None:
    for command in (
        prove_command,
        verify_proof_command,
        hold_group,
        retention_group,
        dispose_command,
    ):
        cli.add_command(command)
