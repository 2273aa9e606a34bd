"""``chatkeeper index`` and ``chatkeeper search``, and the index update after each seal.

The index is built from sealed bundles read and verified with the same
trusted keys as ``chatkeeper verify`` (never from the journal). After a
successful seal, ``index_after_seal`` (called by ``chatkeeper seal`` and by
``serve``'s seal job) indexes the new bundles; a failure there is logged and
never undoes or fails the seal: ``chatkeeper index`` catches up.
"""

from __future__ import annotations

import json
import sys
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

import click
import structlog
from tqdm import tqdm

from archive.codec import format_time
from archive.errors import ChatkeeperError, ConfigError, IntegrityError
from archive.keys import PublicKey
from archive.seal import SealReport
from archive.store import ArchiveStore
from chatkeeper import __version__, runtime
from chatkeeper.context import AppContext
from chatkeeper.search_export import MatchingRecords, search_description
from chatkeeper.settings import Settings
from exporters.archive_source import ArchiveBlobs, ArchiveBundleSource
from exporters.pipeline import FORMATS, ExportRequest, run_export
from exporters.workers import default_workers
from search.indexer import IndexReport, update_index
from search.port import SearchIndex
from search.service import Result, search

log = structlog.get_logger("chatkeeper.search")


def _trusted_keys(
    settings: Settings, paths: tuple[Path, ...], store: ArchiveStore
) -> tuple[dict[str, PublicKey], str]:
    # Imported here: commands_core calls index_after_seal, so importing it at the top is a cycle.
    from chatkeeper.commands_core import trusted_keys

    return trusted_keys(settings, paths, store)


def _advance(bar: tqdm[Any], count: int) -> None:
    bar.update(count)


@contextmanager
def open_index(settings: Settings) -> Iterator[SearchIndex]:
    """The configured search index: SQLite in the state directory, or PostgreSQL."""
    stream = settings.archive.stream
    index: SearchIndex
    if settings.search.backend == "postgres":
        dsn = settings.search.dsn or settings.journal.dsn
        if not dsn:
            raise ConfigError('search.backend = "postgres" needs search.dsn or journal.dsn')
        from search.postgres_index import PostgresSearchIndex

        index = PostgresSearchIndex(dsn, stream)
    else:
        from search.sqlite_index import SqliteSearchIndex

        index = SqliteSearchIndex(settings.search_path, stream)
    try:
        yield index
    finally:
        index.close()


def index_after_seal(
    settings: Settings, store: ArchiveStore, report: SealReport | None = None
) -> IndexReport | None:
    """Index the bundles just sealed (and any not yet indexed); never raises a chatkeeper error."""
    if not settings.search.index_after_seal or (report is not None and not report.bundles):
        return None
    try:
        keys, _ = _trusted_keys(settings, (), store)
        with open_index(settings) as index:
            result = update_index(index, store, runtime.layout(settings), keys)
    except ChatkeeperError as exc:
        log.warning("search.index_failed", error=str(exc), hint="run chatkeeper index")
        return None
    if result.refused:
        log.warning("search.bundles_refused", bundles=[r.number for r in result.refused])
    return result


def seal_hook(settings: Settings, store: ArchiveStore) -> Callable[[SealReport], object]:
    """For ``SealJob(after_seal=...)`` in ``serve``."""
    return lambda report: index_after_seal(settings, store, report)


def _span(numbers: list[int]) -> str:
    return f"{min(numbers)}-{max(numbers)}" if numbers else "none"


@click.command("index")
@click.option("--rebuild", is_flag=True, help="Drop the index and rebuild it from every bundle.")
@click.option(
    "--public-key",
    "public_keys",
    multiple=True,
    type=click.Path(path_type=Path, dir_okay=False, exists=True),
    help="Trusted public key file (repeatable). Default: the keys in the state directory.",
)
@click.pass_context
def index_command(ctx: click.Context, rebuild: bool, public_keys: tuple[Path, ...]) -> None:
    """Index sealed, verified bundles not indexed yet. Exit 3 if a bundle fails verification."""
    app: AppContext = ctx.obj
    settings = app.settings
    with runtime.open_store(settings, role="auditor") as store, open_index(settings) as index:
        keys, trust = _trusted_keys(settings, public_keys, store)
        bar: tqdm[Any] = tqdm(unit="record", disable=not sys.stderr.isatty(), file=sys.stderr)
        try:
            report = update_index(
                index,
                store,
                runtime.layout(settings),
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
        sys.exit(IntegrityError.exit_code)


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


@click.command("search")
@click.argument("query", nargs=-1, required=True)
@click.option("--json", "as_json", is_flag=True, help="Print the results as JSON.")
@click.option("--limit", type=click.IntRange(min=1), help="At most this many results (default 20).")
@click.option("--export", "fmt", type=click.Choice(FORMATS), help="Export the matching records.")
@click.option("--out", type=click.Path(path_type=Path, file_okay=False), help="Export directory.")
@click.option(
    "--public-key",
    "public_keys",
    multiple=True,
    type=click.Path(path_type=Path, dir_okay=False, exists=True),
    help="Trusted public key file for --export (repeatable). Default: the state directory's.",
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
) -> None:
    """Search the index of sealed records (see docs/search.md for the query language)."""
    app: AppContext = ctx.obj
    settings = app.settings
    text = " ".join(query)
    if (fmt is None) != (out is None):
        raise ConfigError("--export FORMAT and --out DIR go together")
    with open_index(settings) as index:
        held = index.held()
        _, results = search(index, text, limit if limit is not None or fmt else 20)
    if fmt is not None and out is not None:
        _export(settings, text, results, held, fmt, out, public_keys)
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
) -> None:
    from chatkeeper.commands_export import _operator  # (see _trusted_keys)

    hits = [r.hit for r in results]
    backend = settings.search.backend
    request = ExportRequest(fmt, search=search_description(text, backend, hits))
    temp_dir = Path(settings.export.temp_dir) if settings.export.temp_dir else None
    with runtime.open_store(settings, role="auditor") as store:
        keys, trust = _trusted_keys(settings, public_keys, store)
        layout = runtime.layout(settings)
        source = MatchingRecords(ArchiveBundleSource(store, layout, keys), hits, held)
        result = run_export(
            source,
            ArchiveBlobs(store, layout),
            request,
            out,
            generator=f"chatkeeper {__version__}",
            tool_version=__version__,
            operator=_operator(settings.export.operator),
            now=lambda: datetime.now(UTC),
            temp_dir=temp_dir,
            workers=settings.export.workers or default_workers(),
        )
    click.echo(
        f"exported {result.records_read} matching record(s) from "
        f"{len(result.bundles)} bundle(s) ({trust}) as {fmt}"
    )
    click.echo(f"custody manifest: {result.manifest}")


def register(cli: click.Group) -> None:
    cli.add_command(index_command)
    cli.add_command(search_command)
