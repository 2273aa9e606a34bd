"""Core commands: seal, verify, status, local-s3."""

from __future__ import annotations

import contextlib
import json
import os
import signal
import sys
import threading
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

import click
from tqdm import tqdm

from archive.clock import SystemClock
from archive.codec import format_time
from archive.errors import IntegrityError
from archive.keys import PublicKey, load_public_keys, local_public_keys
from archive.logs import configure
from archive.seal import seal
from archive.store import ArchiveStore
from archive.store.local_s3 import LocalS3
from archive.verify import VerifyReport, verify_stream
from bots.telegram.visibility import visibility_warnings
from chatkeeper import runtime
from chatkeeper.commands_search import index_after_seal
from chatkeeper.context import AppContext
from chatkeeper.settings import Settings


def _settings(ctx: click.Context) -> Settings:
    app: AppContext = ctx.obj
    settings = app.settings
    configure(settings.log.level, settings.log.format)
    return settings


@click.command("seal")
@click.pass_context
def seal_command(ctx: click.Context) -> None:
    """Seal every unsealed journal record into signed, locked bundles now."""
    settings = _settings(ctx)
    with runtime.open_journal(settings) as journal, runtime.open_store(settings) as store:
        report = seal(
            journal, store, runtime.signer(settings), runtime.seal_policy(settings), SystemClock()
        )
        index_after_seal(settings, store, report)
    if not report.bundles:
        click.echo("nothing to seal")
    for row in report.bundles:
        click.echo(
            f"sealed bundle {row.number}: {row.record_count} records "
            f"(seq {row.seq_first}..{row.seq_last}), manifest sha256 {row.manifest_sha256}"
        )


def trusted_keys(
    settings: Settings, paths: tuple[Path, ...], store: ArchiveStore
) -> tuple[dict[str, PublicKey], str]:
    """Keys to trust: given files, else this deployment's own, else those published in the stream."""
    if paths:
        return load_public_keys(list(paths)), "trusted keys (--public-key)"
    local = local_public_keys(settings.home / "keys")
    if local:
        return local, f"trusted keys ({settings.home / 'keys'})"
    layout = runtime.layout(settings)
    published: dict[str, PublicKey] = {}
    for version in store.versions(layout.keys_prefix):
        if not version.is_delete_marker:
            key = PublicKey.from_json(store.get(version.key, version.version_id))
            published[key.key_id] = key
    return published, "keys published in the store (self-consistency only: pass --public-key)"


def _tick(bar: tqdm[Any]) -> None:
    bar.update(1)


def _print_report(report: VerifyReport) -> None:
    state = "INTACT" if report.ok else "INTEGRITY FAILURE"
    click.echo(f"stream {report.stream!r}: {state}")
    click.echo(f"  bundles checked: {report.bundles} (last {report.last_bundle or '-'})")
    click.echo(f"  records checked: {report.records}")
    click.echo(f"  bytes checked:   {report.bytes}")
    click.echo(f"  signatures:      {report.trust}")
    for finding in report.findings:
        where = f"bundle {finding.bundle}" if finding.bundle else "stream"
        click.echo(f"  ! {where} [{finding.check}] {finding.message}")


@click.command("verify")
@click.option("--deep", is_flag=True, help="Also download and hash every referenced blob.")
@click.option("--json", "as_json", is_flag=True, help="Print the report as JSON.")
@click.option(
    "--public-key",
    "public_keys",
    multiple=True,
    type=click.Path(path_type=Path, dir_okay=False, exists=True),
    help="Trusted public key file (repeatable). Default: the keys in the state directory.",
)
@click.pass_context
def verify_command(
    ctx: click.Context, deep: bool, as_json: bool, public_keys: tuple[Path, ...]
) -> None:
    """Verify the sealed stream end to end. Exit 0 intact, 3 integrity failure, 4 store unavailable."""
    settings = _settings(ctx)
    expected_last = None
    if not settings.journal.dsn and settings.journal_path.exists():
        with runtime.open_journal(settings) as journal:
            last = journal.stats(settings.archive.stream).last_sealed
            expected_last = last.number if last else None
    with runtime.open_store(settings, role="auditor") as store:
        keys, trust = trusted_keys(settings, public_keys, store)
        bar = tqdm(total=expected_last, unit="bundle", disable=as_json or not sys.stderr.isatty())
        report = verify_stream(
            store,
            runtime.layout(settings),
            keys,
            trust=trust,
            deep=deep,
            expected_last=expected_last,
            progress=lambda _: _tick(bar),
        )
        bar.close()
    if as_json:
        click.echo(json.dumps(report.to_json(), indent=2))
    else:
        _print_report(report)
    if not report.ok:
        sys.exit(IntegrityError.exit_code)


def status_data(settings: Settings) -> dict[str, Any]:
    with runtime.open_journal(settings) as journal:
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


@click.command("status")
@click.option("--json", "as_json", is_flag=True, help="Print as JSON.")
@click.pass_context
def status_command(ctx: click.Context, as_json: bool) -> None:
    """Backlog, last sealed bundle, lag, and monitored conversations (reads the journal only)."""
    data = status_data(_settings(ctx))
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


@click.command("local-s3")
@click.pass_context
def local_s3_command(ctx: click.Context) -> None:
    """Run the embedded SeaweedFS S3 (Object Lock) in the foreground until Ctrl-C."""
    settings = _settings(ctx)
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
            stop.wait()
    finally:
        server.stop()


def register(cli: click.Group) -> None:
    for command in (seal_command, verify_command, status_command, local_s3_command):
        cli.add_command(command)
