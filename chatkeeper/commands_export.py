"""``chatkeeper export`` and ``chatkeeper verify-export``.

Exports read sealed bundles from the store (never the journal), verified on
read with the same trusted keys as ``chatkeeper verify``; a bundle that fails
stops the export with exit code 3 unless ``--allow-unverified``.
"""

from __future__ import annotations

import getpass
import sys
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

import click
from tqdm import tqdm

from archive.errors import ConfigError, IntegrityError
from chatkeeper import __version__, runtime
from chatkeeper.commands_core import trusted_keys
from chatkeeper.context import AppContext
from exporters.archive_source import ArchiveBlobs, ArchiveBundleSource
from exporters.custody import verify_export
from exporters.filters import Filters, parse_bundle_range, parse_moment, parse_slice
from exporters.pipeline import FORMATS, ExportRequest, ExportResult, run_export
from exporters.workers import default_workers


def _operator(configured: str) -> str:
    if configured:
        return configured
    try:
        return getpass.getuser()
    except (KeyError, OSError):
        return "unknown"


def build_request(
    fmt: str,
    platform: str | None,
    conversations: tuple[str, ...],
    start: str | None,
    end: str | None,
    participant: str | None,
    bundles: str | None,
    slice_text: str | None,
    allow_unverified: bool,
) -> ExportRequest:
    """The request from command-line words; ConfigError (exit 2) for bad ones."""
    try:
        first, last = parse_bundle_range(bundles) if bundles else (None, None)
        filters = Filters(
            platform=platform,
            conversations=tuple(sorted(set(conversations))),
            start=parse_moment(start) if start else None,
            end=parse_moment(end, end_of_day=True) if end else None,
            participant=participant,
            first_bundle=first,
            last_bundle=last,
        )
        seconds = parse_slice(slice_text) if slice_text else 86_400
        return ExportRequest(fmt, filters, seconds, allow_unverified)
    except ValueError as exc:
        raise ConfigError(str(exc)) from exc


@click.command("export")
@click.option("--format", "fmt", type=click.Choice(FORMATS), required=True, help="Output format.")
@click.option(
    "--out", type=click.Path(path_type=Path, file_okay=False), required=True, help="Directory."
)
@click.option("--platform", type=click.Choice(["slack", "telegram"]), help="Only this platform.")
@click.option(
    "--conversation", "conversations", multiple=True, help="Channel/chat id (repeatable)."
)
@click.option("--from", "start", help="From this date or timestamp (UTC), inclusive.")
@click.option("--to", "end", help="Until this timestamp, or the end of this date (UTC).")
@click.option("--participant", help="Only messages by this user id, e-mail or name.")
@click.option("--bundle", "bundles", help="Bundle number or range: 7, 3-9, 5- or -4.")
@click.option("--slice", "slice_text", help="rsmf only: one file per 1d (default), 6h, 7d...")
@click.option("--allow-unverified", is_flag=True, help="Export bundles that fail verification.")
@click.option(
    "--public-key",
    "public_keys",
    multiple=True,
    type=click.Path(path_type=Path, dir_okay=False, exists=True),
    help="Trusted public key file (repeatable). Default: the keys in the state directory.",
)
@click.pass_context
def export_command(
    ctx: click.Context,
    fmt: str,
    out: Path,
    platform: str | None,
    conversations: tuple[str, ...],
    start: str | None,
    end: str | None,
    participant: str | None,
    bundles: str | None,
    slice_text: str | None,
    allow_unverified: bool,
    public_keys: tuple[Path, ...],
) -> None:
    """Export sealed, verified records to rsmf, eml, html, slack, jsonl or csv."""
    app: AppContext = ctx.obj
    settings = app.settings
    request = build_request(
        fmt, platform, conversations, start, end, participant, bundles, slice_text, allow_unverified
    )
    temp_dir = Path(settings.export.temp_dir) if settings.export.temp_dir else None
    with runtime.open_store(settings, role="auditor") as store:
        keys, trust = trusted_keys(settings, public_keys, store)
        layout = runtime.layout(settings)
        bar: tqdm[Any] = tqdm(unit="record", disable=not sys.stderr.isatty(), file=sys.stderr)
        try:
            result = run_export(
                ArchiveBundleSource(store, layout, keys),
                ArchiveBlobs(store, layout),
                request,
                out,
                generator=f"chatkeeper {__version__}",
                tool_version=__version__,
                operator=_operator(settings.export.operator),
                now=lambda: datetime.now(UTC),
                progress=lambda count: _advance(bar, count),
                temp_dir=temp_dir,
                workers=settings.export.workers or default_workers(),
            )
        finally:
            bar.close()
    _print_result(result, trust)


def _advance(bar: tqdm[Any], count: int) -> None:
    bar.update(count)


def _print_result(result: ExportResult, trust: str) -> None:
    numbers = [b.number for b in result.bundles]
    span = f"{min(numbers)}-{max(numbers)}" if numbers else "none"
    click.echo(f"read {result.records_read} records from bundles {span} ({trust})")
    click.echo(f"wrote {result.file_count - result.skipped} files, kept {result.skipped} complete")
    click.echo(f"custody manifest: {result.manifest}")
    for bundle in result.bundles:
        if not bundle.verified:
            click.echo(f"WARNING: bundle {bundle.number} is UNVERIFIED: {bundle.problem}", err=True)


@click.command("verify-export")
@click.argument("directory", type=click.Path(path_type=Path, file_okay=False, exists=True))
def verify_export_command(directory: Path) -> None:
    """Re-check an export against its custody manifest. Exit 0 intact, 3 changed."""
    check = verify_export(directory)
    for problem in check.problems:
        click.echo(f"  ! {problem}")
    if check.unverified_bundles:
        numbers = ", ".join(str(n) for n in check.unverified_bundles)
        click.echo(
            f"note: exported with --allow-unverified; bundle(s) {numbers} failed verification"
        )
    if not check.ok:
        click.echo(f"export {directory}: INTEGRITY FAILURE ({len(check.problems)} problem(s))")
        sys.exit(IntegrityError.exit_code)
    click.echo(f"export {directory}: INTACT ({check.files_checked} files checked)")


def register(cli: click.Group) -> None:
    cli.add_command(export_command)
    cli.add_command(verify_export_command)
