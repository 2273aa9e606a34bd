"""``chatkeeper index`` and ``chatkeeper search [--export]``.

The index holds sealed bundles only, each read and verified with the same
trusted keys as ``chatkeeper verify``; ``chatkeeper/search_index.py`` opens it
and updates it after each seal, ``chatkeeper/search_export.py`` exports the
matching records through the exporters.
"""

from __future__ import annotations

import json
import sys
from pathlib import Path
from typing import Any

import click
from tqdm import tqdm

from archive.codec import format_time
from archive.errors import ConfigError, IntegrityError
from archive.keys import load_or_create_signer
from chatkeeper import build
from chatkeeper.commands.export import export_from_store, export_key_dir
from chatkeeper.commands.group import cli, public_key_option, settings_of
from chatkeeper.search_export import MatchingRecords, search_description
from chatkeeper.search_index import index_keys, open_index
from chatkeeper.settings import Settings
from exporters.archive_source import checked_source
from exporters.pipeline import FORMATS, ExportRequest
from search.indexer import update_index
from search.service import Result, search


def _advance(bar: tqdm[Any], count: int) -> None:
    bar.update(count)


def _span(numbers: list[int]) -> str:
    return f"{min(numbers)}-{max(numbers)}" if numbers else "none"


@cli.command("index")
@click.option("--rebuild", is_flag=True, help="Drop the index and rebuild it from every bundle.")
@public_key_option(
    "Trusted public key file (repeatable). Default: archive.trusted_keys, else this deployment's."
)
@click.option(
    "--key-fingerprint",
    "fingerprints",
    multiple=True,
    help="Pin the published key with this SHA-256 fingerprint, 64 hex digits (repeatable).",
)
@click.pass_context
def index_command(
    ctx: click.Context, rebuild: bool, public_keys: tuple[Path, ...], fingerprints: tuple[str, ...]
) -> None:
    """Index sealed, verified bundles not indexed yet. Exit 3 if a bundle fails verification."""
    settings = settings_of(ctx)
    with build.open_store(settings, role="auditor") as store, open_index(settings) as index:
        keys, trust = index_keys(settings, store, public_keys, fingerprints)
        bar: tqdm[Any] = tqdm(unit="record", disable=not sys.stderr.isatty(), file=sys.stderr)
        try:
            report = update_index(
                index,
                store,
                build.layout(settings),
                keys,
                rebuild=rebuild,
                progress=lambda n: _advance(bar, n),
                workers=settings.search.workers,
            )
        finally:
            bar.close()
        held = [b.number for b in index.held()]
        records = sum(b.records for b in index.held())
    click.echo(
        f"indexed {len(report.indexed)} bundle(s), {report.records} records ({trust}); "
        f"the index holds bundles {_span(held)}, {records} records"
    )
    for refused in report.refused:
        click.echo(
            f"REFUSED: bundle {refused.number} failed verification and was not indexed: "
            f"{refused.problems}",
            err=True,
        )
    if report.refused:
        raise IntegrityError()  # the lines above say which bundles and why


def _result_json(result: Result) -> dict[str, Any]:
    hit = result.hit
    return {
        "key": hit.key,
        "seq": hit.seq,
        "bundle": hit.bundle,
        "platform": hit.platform,
        "workspace": hit.workspace,
        "conversation": hit.conversation,
        "conversation_name": hit.conversation_name,
        "occurred_at": format_time(hit.occurred_at),
        "sender": {"id": hit.actor_id, "name": hit.actor_name, "email": hit.actor_email},
        "kind": hit.kind,
        "version": hit.version,
        "message_id": hit.message_id,
        "thread_id": hit.thread_id,
        "files": hit.files.splitlines(),
        "snippet": result.snippet,
    }


def _print_result(result: Result) -> None:
    hit = result.hit
    where = (
        f"#{hit.conversation_name} ({hit.conversation})"
        if hit.conversation_name
        else hit.conversation
    )
    sender = hit.actor_name or hit.actor_id or "unknown sender"
    if hit.actor_email:
        sender += f" <{hit.actor_email}>"
    when = hit.occurred_at.strftime("%Y-%m-%d %H:%M:%SZ")
    click.echo(f"{when}  {hit.platform} {where}  {sender}  [{hit.version}]")
    click.echo(f"    {result.snippet}")


@cli.command("search")
@click.argument("query", nargs=-1, required=True)
@click.option("--json", "as_json", is_flag=True, help="Print the results as JSON.")
@click.option("--limit", type=click.IntRange(min=1), help="At most this many results (default 20).")
@click.option("--export", "fmt", type=click.Choice(FORMATS), help="Export the matching records.")
@click.option("--out", type=click.Path(path_type=Path, file_okay=False), help="Export directory.")
@public_key_option("Trusted public key file for --export (repeatable), as for index.")
@click.option(
    "--key-fingerprint",
    "fingerprints",
    multiple=True,
    help="Pin the published key with this SHA-256 fingerprint for --export (repeatable).",
)
@click.pass_context
def search_command(
    ctx: click.Context,
    query: tuple[str, ...],
    as_json: bool,
    limit: int | None,
    fmt: str | None,
    out: Path | None,
    public_keys: tuple[Path, ...],
    fingerprints: tuple[str, ...],
) -> None:
    """Search the index of sealed records (see docs/search.md for the query language)."""
    settings = settings_of(ctx)
    text = " ".join(query)
    if (fmt is None) != (out is None):
        raise ConfigError("--export FORMAT and --out DIR go together")
    with open_index(settings) as index:
        held = index.held()
        _, results = search(index, text, limit if limit is not None or fmt else 20)
    if fmt is not None and out is not None:
        _export(settings, text, results, held, fmt, out, public_keys, fingerprints)
        return
    if as_json:
        click.echo(json.dumps([_result_json(r) for r in results], indent=2, ensure_ascii=False))
        return
    numbers = [b.number for b in held]
    click.echo(f"{len(results)} result(s); the index holds bundles {_span(numbers)}")
    if not held:
        click.echo("the index is empty: run chatkeeper index")
    for result in results:
        _print_result(result)


def _export(
    settings: Settings,
    text: str,
    results: list[Result],
    held: list[Any],
    fmt: str,
    out: Path,
    public_keys: tuple[Path, ...],
    fingerprints: tuple[str, ...],
) -> None:
    hits = [r.hit for r in results]
    backend = settings.search.backend
    request = ExportRequest(fmt, search=search_description(text, backend, hits))
    signer = load_or_create_signer(export_key_dir(settings))
    expected_last = build.last_sealed_bundle(settings)
    with build.open_store(settings, role="auditor") as store:
        keys, trust = index_keys(settings, store, public_keys, fingerprints)
        layout = build.layout(settings)
        # The stream checks of `chatkeeper export` first: any finding refuses (exit 3).
        archive = checked_source(store, layout, keys, expected_last=expected_last)
        source = MatchingRecords(archive, hits, held)
        result = export_from_store(
            settings,
            store,
            layout,
            source,
            request,
            out,
            signer,
            stream_problems=archive.stream_problems,
        )
    click.echo(
        f"exported {result.records_read} matching record(s) from "
        f"{len(result.bundles)} bundle(s) ({trust}) as {fmt}"
    )
    click.echo(f"custody manifest: {result.manifest}")
