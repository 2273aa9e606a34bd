"""``chatkeeper export`` and ``chatkeeper verify-export``.

Exports first run the stream-level checks of ``chatkeeper verify`` (gaps,
extra versions, delete markers, manifests, chain, signatures, locks), then read
sealed bundles from the store (never the journal), verified on read with the
same trusted keys; any finding stops the export with exit code 3 unless
``--allow-unverified``. The custody manifest is signed with the export key
(``<home>/keys/export/``, created on first use); ``verify-export`` checks that
signature under a pinned key as well as every file's hash.
"""

from __future__ import annotations

import getpass
import sys
from collections.abc import Sequence
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

import click
from tqdm import tqdm

from archive.bundle import Layout
from archive.errors import ConfigError, IntegrityError
from archive.keys import (
    PublicKey,
    Signer,
    load_or_create_signer,
    load_public_keys,
    local_public_keys,
    trusted_keys,
)
from archive.proof import Prover
from archive.store import ArchiveStore
from chatkeeper import __version__, build
from chatkeeper.commands.group import cli, public_key_option, settings_of
from chatkeeper.settings import Settings
from exporters.archive_source import ArchiveBlobs, checked_source
from exporters.custody import ExportCheck, verify_export
from exporters.custody_signature import PUBLIC_KEY_NAME
from exporters.filters import Filters, parse_bundle_range, parse_moment, parse_slice
from exporters.pipeline import (
    FORMATS,
    ExportRequest,
    ExportResult,
    ProofSource,
    run_export,
)
from exporters.source import BundleSource
from exporters.spill import Progress
from exporters.workers import default_workers


def export_key_dir(settings: Settings) -> Path:
    """Where the export signing key lives: apart from the archive's keys, so it is never
    trusted for bundle manifests."""
    return settings.home / "keys" / "export"


def export_from_store(
    settings: Settings,
    store: ArchiveStore,
    layout: Layout,
    source: BundleSource,
    request: ExportRequest,
    out: Path,
    signer: Signer,
    *,
    stream_problems: Sequence[str],
    progress: Progress | None = None,
    proofs: ProofSource | None = None,
) -> ExportResult:
    """``run_export`` as ``chatkeeper export`` and ``chatkeeper search --export`` run it:
    blobs from the store, this version, the configured operator, temp dir and workers."""
    return run_export(
        source,
        ArchiveBlobs(store, layout),
        request,
        out,
        generator=f"chatkeeper {__version__}",
        tool_version=__version__,
        operator=operator_name(settings.export.operator),
        now=lambda: datetime.now(UTC),
        signer=signer,
        stream_problems=stream_problems,
        progress=progress,
        temp_dir=Path(settings.export.temp_dir) if settings.export.temp_dir else None,
        workers=settings.export.workers or default_workers(),
        proofs=proofs,
    )


def operator_name(configured: str) -> str:
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


@cli.command("export")
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
@click.option(
    "--allow-unverified",
    is_flag=True,
    help="Export even if the stream or a bundle fails verification (marked unverified).",
)
@public_key_option(
    "Trusted public key file (repeatable). Default: the keys in the state directory."
)
@click.option(
    "--with-proofs", is_flag=True, help="Add a proof file per exported message under proofs/."
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
    with_proofs: bool,
) -> None:
    """Export sealed, verified records to rsmf, eml, html, slack, jsonl or csv."""
    settings = settings_of(ctx)
    request = build_request(
        fmt, platform, conversations, start, end, participant, bundles, slice_text, allow_unverified
    )
    signer = load_or_create_signer(export_key_dir(settings))
    expected_last = build.last_sealed_bundle(settings)
    with build.open_store(settings, role="auditor") as store:
        layout = build.layout(settings)
        keys, trust = trusted_keys(
            store,
            layout,
            own_key_dir=settings.home / "keys",
            key_files=public_keys,
            configured=settings.archive.trusted_keys,
        )
        source = checked_source(store, layout, keys, expected_last=expected_last)
        _refuse_unless_allowed(source.stream_problems, allow_unverified)
        bar: tqdm[Any] = tqdm(unit="record", disable=not sys.stderr.isatty(), file=sys.stderr)
        try:
            result = export_from_store(
                settings,
                store,
                layout,
                source,
                request,
                out,
                signer,
                stream_problems=source.stream_problems,
                progress=lambda count: _advance(bar, count),
                proofs=Prover(store, layout).proof_files if with_proofs else None,
            )
        finally:
            bar.close()
    _print_result(result, trust)


def _refuse_unless_allowed(problems: tuple[str, ...], allow_unverified: bool) -> None:
    """Any stream finding refuses the export (exit 3) unless --allow-unverified."""
    if not problems or allow_unverified:
        return  # when allowed, the findings are printed as warnings with the result
    for problem in problems:
        click.echo(f"  ! {problem}", err=True)
    raise IntegrityError(
        f"export refused: the stream failed verification ({len(problems)} finding(s) above); "
        "run `chatkeeper verify` for the full report, or pass --allow-unverified to export "
        "anyway, marked unverified"
    )


def _advance(bar: tqdm[Any], count: int) -> None:
    bar.update(count)


def _print_result(result: ExportResult, trust: str) -> None:
    numbers = [b.number for b in result.bundles]
    span = f"{min(numbers)}-{max(numbers)}" if numbers else "none"
    state = "" if result.verified else ", UNVERIFIED"
    click.echo(f"read {result.records_read} records from bundles {span} ({trust}{state})")
    click.echo(f"wrote {result.file_count - result.skipped} files, kept {result.skipped} complete")
    click.echo(f"custody manifest: {result.manifest}")
    click.echo(
        f"signed with export key {result.signed_by!r}: {result.signature} "
        f"(public key: {result.signature.parent / PUBLIC_KEY_NAME})"
    )
    for problem in result.stream_problems:
        click.echo(f"WARNING: the stream failed verification: {problem}", err=True)
    for bundle in result.bundles:
        if not bundle.verified:
            click.echo(f"WARNING: bundle {bundle.number} is UNVERIFIED: {bundle.problem}", err=True)


@cli.command("verify-export")
@click.argument("directory", type=click.Path(path_type=Path, file_okay=False, exists=True))
@public_key_option(
    "Pinned export public key file (repeatable). Default: this state directory's export key."
)
@click.pass_context
def verify_export_command(
    ctx: click.Context, directory: Path, public_keys: tuple[Path, ...]
) -> None:
    """Check an export's signed custody manifest and every file. Exit 0 intact, 3 otherwise."""
    pinned, source = _pinned_keys(ctx, public_keys)
    check = verify_export(directory, pinned)
    _print_check(directory, check, source)
    if not check.ok:
        raise IntegrityError()  # the check above says why


def _pinned_keys(
    ctx: click.Context, public_keys: tuple[Path, ...]
) -> tuple[dict[str, PublicKey], str]:
    if public_keys:
        return load_public_keys(list(public_keys)), "--public-key"
    key_dir = export_key_dir(settings_of(ctx))
    return local_public_keys(key_dir), str(key_dir)


def _print_check(directory: Path, check: ExportCheck, source: str) -> None:
    for problem in check.problems:
        click.echo(f"  ! {problem}")
    if check.unverified_bundles or check.stream_findings:
        numbers = ", ".join(str(n) for n in check.unverified_bundles) or "none"
        click.echo(
            f"note: exported with --allow-unverified; bundle(s) {numbers} failed verification"
        )
        for finding in check.stream_findings:
            click.echo(f"note: the stream failed verification: {finding}")
    if not check.ok:
        click.echo(f"export {directory}: INTEGRITY FAILURE ({len(check.problems)} problem(s))")
        return
    click.echo(
        f"export {directory}: INTACT ({check.files_checked} files checked, custody manifest "
        f"signed by pinned export key {check.signed_by!r} from {source})"
    )
