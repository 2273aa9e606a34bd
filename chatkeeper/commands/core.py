"""Core commands: seal, verify, status, local-s3."""

from __future__ import annotations

import contextlib
import json
import os
import signal
import sys
import threading
from dataclasses import replace
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any

import click
from tqdm import tqdm

from archive.clock import SystemClock
from archive.codec import format_time
from archive.errors import IntegrityError
from archive.keys import load_or_create_signer, trusted_keys
from archive.schedule import sealing_lease
from archive.seal import seal
from archive.store.local_s3 import LocalS3
from archive.verify import VerifyReport, verify_stream
from archive.verify_incremental import state_after, verify_since
from archive.verify_state import read_state, write_state
from bots.telegram.visibility import visibility_warnings
from chatkeeper import build
from chatkeeper.commands.group import cli, public_key_option, settings_of
from chatkeeper.durations import parse_age
from chatkeeper.progress import progress_bar
from chatkeeper.screening import after_seal_hooks
from chatkeeper.search_index import index_after_seal
from chatkeeper.settings import Settings
from chatkeeper.verify_state import record_verify_result


@cli.command("seal")
@click.pass_context
def seal_command(ctx: click.Context) -> None:
    """Seal every unsealed journal record into signed, locked bundles now."""
    settings = settings_of(ctx)
    clock = SystemClock()
    with (
        build.open_journal(settings) as journal,
        build.open_store(settings) as store,
        after_seal_hooks(settings, store) as screening,
        sealing_lease(journal, clock, settings.schedule.lease_seconds),
        progress_bar(unit="record") as progress,
    ):
        report = seal(
            journal, store, build.signer(settings), build.seal_policy(settings), clock, progress
        )
        held = build.hold_after_seal(settings, journal, store, report.bundles)
        index_after_seal(settings, store, report)  # after the holds: it indexes their records too
        for screen in screening:  # after the index; never raises for a store or integrity error
            screen(report)
    if not report.bundles:
        click.echo("nothing to seal")
    for row in report.bundles:
        click.echo(
            f"sealed bundle {row.number}: {row.record_count} records "
            f"(seq {row.seq_first}..{row.seq_last}), manifest sha256 {row.manifest_sha256}"
        )
    if held:
        click.echo(f"placed the legal hold of open matters on {held} new objects")
    if report.checkpoint is not None:
        last = report.checkpoint.last_bundle or "none"
        click.echo(f"sealed checkpoint {report.checkpoint.number} (last bundle {last})")


def _tick(bar: tqdm[Any]) -> None:
    bar.update(1)


def _print_report(report: VerifyReport) -> None:
    state = "INTACT" if report.ok else "INTEGRITY FAILURE"
    click.echo(f"stream {report.stream!r}: {state}")
    click.echo(f"  bundles checked: {report.bundles} (last {report.last_bundle or '-'})")
    click.echo(f"  records checked: {report.records}")
    click.echo(f"  bytes checked:   {report.bytes}")
    click.echo(f"  signatures:      {report.trust}")
    for key in report.keys.values():
        click.echo(f"    {key.key_id}  fingerprint {key.fingerprint}")
    for rotation in report.rotations:
        click.echo(
            f"  key rotation:    bundle {rotation['bundle']}: {rotation['old']} -> {rotation['new']}"
        )
    newest = report.newest_checkpoint
    click.echo(
        f"  checkpoints:     {report.checkpoints}"
        + (
            f" (newest {newest['number']} at {newest['created_at']}, bundle {newest['last_bundle']})"
            if newest
            else ""
        )
    )
    if report.held_objects:
        click.echo(f"  legal holds:     {report.held_objects} objects of open matters checked")
    if report.disposed:
        click.echo(
            f"  disposed:        {len(report.disposed)} objects, each by a sealed certificate"
        )
    for finding in report.findings:
        where = f"bundle {finding.bundle}" if finding.bundle else "stream"
        click.echo(f"  ! {where} [{finding.check}] {finding.message}")


@cli.command("verify")
@click.option("--deep", is_flag=True, help="Also download and hash every referenced blob.")
@click.option("--json", "as_json", is_flag=True, help="Print the report as JSON.")
@public_key_option("Pin this public key file (repeatable).")
@click.option(
    "--key-fingerprint",
    "fingerprints",
    multiple=True,
    help="Pin the published key with this SHA-256 fingerprint, 64 hex digits (repeatable).",
)
@click.option(
    "--max-age",
    help="Report possible truncation when the newest checkpoint is older than this "
    "(7200, 90m, 2h, 1d). Default: twice schedule.checkpoint_interval_seconds.",
)
@click.option(
    "--incremental",
    is_flag=True,
    help="Check only the bundles sealed since the last intact --incremental run (a state "
    "signed by this machine's verify key); the first run checks everything.",
)
@click.option(
    "--state",
    "state_path",
    type=click.Path(path_type=Path, dir_okay=False),
    help="The verified state file of --incremental. Default: <home>/verify/<stream>.state.json.",
)
@click.pass_context
def verify_command(
    ctx: click.Context,
    deep: bool,
    as_json: bool,
    public_keys: tuple[Path, ...],
    fingerprints: tuple[str, ...],
    max_age: str | None,
    incremental: bool,
    state_path: Path | None,
) -> None:
    """Verify the sealed stream end to end. Exit 0 intact, 3 integrity failure, 4 store unavailable."""
    settings = settings_of(ctx)
    age = (
        parse_age(max_age)
        if max_age is not None
        else timedelta(seconds=2 * settings.schedule.checkpoint_interval_seconds)
    )
    try:
        report = _verify(
            settings, deep, as_json, public_keys, fingerprints, age, incremental, state_path
        )
    except IntegrityError:  # no trust anchor, a forged key: the archive is not shown intact
        record_verify_result(settings.home, ok=False, at=datetime.now(UTC), bundles=0, deep=deep)
        raise
    record_verify_result(
        settings.home, ok=report.ok, at=datetime.now(UTC), bundles=report.bundles, deep=deep
    )
    if as_json:
        click.echo(json.dumps(report.to_json(), indent=2))
    else:
        _print_report(report)
    if not report.ok:
        raise IntegrityError()  # the report above says why


def _verify(
    settings: Settings,
    deep: bool,
    as_json: bool,
    public_keys: tuple[Path, ...],
    fingerprints: tuple[str, ...],
    age: timedelta,
    incremental: bool = False,
    state_path: Path | None = None,
) -> VerifyReport:
    """One verify run; the caller records its result for /metrics (chatkeeper/verify_state.py).

    With ``incremental``, a run from a verified state checks only the bundles
    after it (``archive.verify_incremental``); an intact run keeps a new state.
    """
    expected_last = build.last_sealed_bundle(settings)
    with build.open_store(settings, role="auditor") as store:
        keys, trust = trusted_keys(
            store,
            build.layout(settings),
            own_key_dir=settings.home / "keys",
            key_files=public_keys,
            fingerprints=fingerprints,
            configured=settings.archive.trusted_keys,
        )
        layout = build.layout(settings)
        verifier = load_or_create_signer(settings.home / "keys" / "verify")
        path = state_path or settings.home / "verify" / f"{layout.stream}.state.json"
        before = (
            read_state(path, verifier.public, layout.stream)
            if incremental and path.exists()
            else None
        )
        if before is not None:
            report = verify_since(
                store,
                layout,
                replace(before, keys={**before.keys, **keys}),
                trust=trust,
                deep=deep,
                expected_last=expected_last,
            )
            if not as_json:
                click.echo(
                    f"incremental: bundles after {before.last_bundle}, verified intact "
                    f"{format_time(before.verified_at)} (checkpoints: full verify only)"
                )
        else:
            bar = tqdm(
                total=expected_last, unit="bundle", disable=as_json or not sys.stderr.isatty()
            )
            report = verify_stream(
                store,
                build.layout(settings),
                keys,
                trust=trust,
                deep=deep,
                expected_last=expected_last,
                progress=lambda _: _tick(bar),
                max_age=age,
            )
            bar.close()
    if incremental:
        state = state_after(report, before, SystemClock().now())
        if state is not None:
            write_state(path, state, verifier)
    return report


def status_data(settings: Settings) -> dict[str, Any]:
    with build.open_journal(settings) as journal:
        stats = journal.stats(settings.archive.stream)
        monitored = journal.monitoring()
    now = datetime.now(UTC)
    last = stats.last_sealed
    oldest = stats.oldest_unsealed_captured_at
    return {
        "stream": settings.archive.stream,
        "journal": str(settings.journal_path) if not settings.journal.dsn else "postgresql",
        "records": stats.records,
        "backlog": stats.unsealed,
        "lag_seconds": round((now - oldest).total_seconds(), 1) if oldest else 0.0,
        "last_bundle": None
        if last is None
        else {
            "number": last.number,
            "created_at": format_time(last.created_at),
            "records": last.record_count,
            "manifest_sha256": last.manifest_sha256,
        },
        "monitored": [
            {
                "platform": m.platform,
                "workspace": m.workspace,
                "conversation": m.conversation,
                "name": m.conversation_name,
                "enabled": m.enabled,
                "since": format_time(m.changed_at),
                "by": m.changed_by,
            }
            for m in monitored
        ],
        "warnings": visibility_warnings(settings.home),
    }


@cli.command("status")
@click.option("--json", "as_json", is_flag=True, help="Print as JSON.")
@click.pass_context
def status_command(ctx: click.Context, as_json: bool) -> None:
    """Backlog, last sealed bundle, lag, and monitored conversations (reads the journal only)."""
    data = status_data(settings_of(ctx))
    if as_json:
        click.echo(json.dumps(data, indent=2))
        return
    click.echo(f"stream:        {data['stream']}")
    click.echo(f"journal:       {data['journal']} ({data['records']} records)")
    click.echo(f"backlog:       {data['backlog']} unsealed, oldest {data['lag_seconds']} s ago")
    last = data["last_bundle"]
    click.echo(
        "last bundle:   "
        + (
            "none yet"
            if last is None
            else f"{last['number']} at {last['created_at']} ({last['records']} records)"
        )
    )
    click.echo(
        f"monitored:     {sum(1 for m in data['monitored'] if m['enabled'])} conversation(s)"
    )
    for m in data["monitored"]:
        state = "on " if m["enabled"] else "off"
        click.echo(
            f"  [{state}] {m['platform']}:{m['workspace']}:{m['conversation']} "
            f"{m['name'] or ''} since {m['since']} by {m['by']}"
        )
    for warning in data["warnings"]:
        click.echo(f"warning:       {warning}")


@cli.command("local-s3")
@click.pass_context
def local_s3_command(ctx: click.Context) -> None:
    """Run the embedded SeaweedFS S3 (Object Lock) in the foreground until Ctrl-C.

    Exits 4 with one error line if SeaweedFS dies on its own.
    """
    settings = settings_of(ctx)
    state = settings.home / "s3"
    server = LocalS3(state)
    endpoint = server.start()
    try:
        server.ensure_bucket(
            settings.s3.bucket,
            mode=settings.archive.retention_mode,
            days=settings.archive.retention_days,
        )
        env_file = state / "archiver.env"
        fd = os.open(env_file, os.O_WRONLY | os.O_CREAT | os.O_TRUNC, 0o600)
        with os.fdopen(fd, "w") as handle:
            handle.write(
                f"export AWS_ENDPOINT_URL={endpoint.url}\n"
                f"export AWS_ACCESS_KEY_ID={endpoint.archiver.access_key}\n"
                f"export AWS_SECRET_ACCESS_KEY={endpoint.archiver.secret_key}\n"
            )
        click.echo(
            f"SeaweedFS S3 with Object Lock at {endpoint.url}, bucket {settings.s3.bucket!r}"
        )
        click.echo(f"data in {state / 'data'}; credentials: source {env_file}")
        click.echo("chatkeeper commands using this --home attach to it. Ctrl-C to stop.")
        stop = threading.Event()
        signal.signal(signal.SIGTERM, lambda *_: stop.set())
        with contextlib.suppress(KeyboardInterrupt):
            while not stop.wait(0.5):  # watch the child: a dead SeaweedFS is an error
                if server.exit_code() is not None:
                    raise server.died_error()
    finally:
        server.stop()
