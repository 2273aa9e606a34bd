"""The search page: the query language of docs/search.md plus filter fields, highlighted hits,
and export of the result set. Each search (with its query) is archived before results are shown.
"""

from __future__ import annotations

import asyncio
import hashlib
from datetime import UTC, datetime

import aiohttp_jinja2
from aiohttp import web

from archive.errors import ChatkeeperError
from console.context import Console, client_of, console_of
from console.export_zip import ZippedExport, export_zip
from console.pages_archive import OWN_PLATFORM, failure_page, zip_response
from console.web_security import require_session
from exporters.archive_source import checked_source
from exporters.pipeline import FORMATS, ExportRequest
from search.port import SearchIndex
from search.service import Result, search

#: Form fields that become ``field:value`` terms of the query.
FILTERS = ("from", "in", "platform", "kind", "after", "before")


def full_query(form: dict[str, str]) -> str:
    """The typed query with the filter fields added as ``field:value`` terms."""
    parts = [form.get("q", "").strip()]
    for name in FILTERS:
        value = form.get(name, "").strip().replace('"', "")
        if value:
            parts.append(f'{name}:"{value}"' if " " in value else f"{name}:{value}")
    if form.get("has") == "file":
        parts.append("has:file")
    return " ".join(p for p in parts if p)


def visible(results: list[Result], admin: bool) -> list[Result]:
    """Records about the archive itself (platform chatkeeper) are shown to admins only."""
    return results if admin else [r for r in results if r.hit.platform != OWN_PLATFORM]


def _index(console: Console) -> SearchIndex:
    if console.search is None:
        raise web.HTTPNotFound(text="search is not configured")
    return console.search


async def search_page(request: web.Request) -> web.Response:
    session = require_session(request)
    console = console_of(request)
    index = _index(console)
    form = {k: v for k, v in request.query.items() if k in (*FILTERS, "q", "has")}
    query = full_query(form)
    results: list[Result] = []
    error = None
    if query:
        limit = console.settings.page_size
        try:
            _, results = await asyncio.to_thread(search, index, query, limit)
        except ChatkeeperError as exc:
            error = str(exc)
        results = visible(results, session.user.is_admin)
        await console.audit.record(
            "search",
            session.user.name,
            outcome="ok" if error is None else "refused",
            client=client_of(request),
            query=query,
            results=len(results),
        )
    return aiohttp_jinja2.render_template(
        "search.html",
        request,
        {
            "session": session,
            "form": form,
            "query": query,
            "results": results,
            "error": error,
            "formats": FORMATS,
            "limit": console.settings.page_size,
        },
    )


async def export_results(request: web.Request) -> web.StreamResponse:
    session = require_session(request)
    console = console_of(request)
    index = _index(console)
    form = {k: str(v) for k, v in (await request.post()).items() if k != "csrf"}
    query = full_query(form)
    fmt = form.get("format", "jsonl")
    matching = console.matching
    view = console.view
    try:
        if not query:
            raise web.HTTPBadRequest(text="an export of results needs a query")
        if fmt not in FORMATS or matching is None:
            raise web.HTTPBadRequest(text="unknown export format")

        def run() -> ZippedExport:
            held = index.held()
            _, results = search(index, query, None)
            hits = [r.hit for r in visible(results, session.user.is_admin)]
            keys = sorted(h.key for h in hits)
            description = {
                "query": query,
                "index": console.search_backend,
                "matched_records": len(keys),
                "matched_keys_sha256": hashlib.sha256("\n".join(keys).encode()).hexdigest(),
                "bundles": sorted({h.bundle for h in hits}),
            }
            source = matching(checked_source(view.store, view.layout, view.keys), hits, held)
            return export_zip(
                view.store,
                view.layout,
                view.keys,
                ExportRequest(fmt, search=description),
                operator=session.user.name,
                generator=console.generator,
                tool_version=console.version,
                now=lambda: datetime.now(UTC),
                signer=console.export_signer,
                temp_dir=console.temp_dir,
                source=source,
            )

        result = await asyncio.to_thread(run)
    except ChatkeeperError as exc:
        await console.audit.record(
            "export",
            session.user.name,
            outcome=type(exc).__name__,
            client=client_of(request),
            query=query,
            format=fmt,
        )
        return failure_page(request, exc)
    return await zip_response(request, console, session.user.name, result, fmt)


def add_routes(app: web.Application) -> None:
    app.add_routes([web.get("/search", search_page), web.post("/search/export", export_results)])
