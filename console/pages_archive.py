"""The officers' pages: conversations, a conversation, attachment download, verify, export.

Each page reads the sealed archive through ``ArchiveView`` in a worker thread
and archives the officer's action before the answer is sent: a page whose
action cannot be made durable shows nothing.
"""

from __future__ import annotations

import asyncio
import re
from datetime import UTC, datetime
from typing import IO

import aiohttp_jinja2
from aiohttp import web

from archive.errors import (
    AccountError,
    ChatkeeperError,
    ConfigError,
    IntegrityError,
    StoreUnavailableError,
)
from archive.matters import Matter, matters_from_events
from archive.model import Platform
from archive.verify import VerifyReport
from console.archive_view import ConversationRef, NotFoundError
from console.context import Console, client_of, console_of
from console.export_zip import ZippedExport, export_zip
from console.web_security import SESSION, require_session
from exporters.filters import Filters, parse_moment
from exporters.pipeline import FORMATS, ExportRequest

_SHA256 = re.compile(r"[0-9a-f]{64}")
_CHUNK = 256 * 1024
_UNSAFE_NAME = re.compile(r"[^A-Za-z0-9._ -]+")


def failure_page(request: web.Request, exc: Exception) -> web.Response:
    """An error page that says why nothing is shown (never a traceback)."""
    if isinstance(exc, NotFoundError):
        status, title = 404, "Not in the archive"
    elif isinstance(exc, IntegrityError):
        status, title = 409, "Integrity failure: nothing from this part of the archive is shown"
    elif isinstance(exc, StoreUnavailableError):
        status, title = 503, "The archive store cannot be reached"
    elif isinstance(exc, ConfigError | AccountError):
        status, title = 400, "The request is not valid"
    else:
        status, title = 503, "The console cannot do this now"
    return aiohttp_jinja2.render_template(
        "error.html",
        request,
        {"session": request.get(SESSION), "title": title, "detail": str(exc)},
        status=status,
    )


#: Records chatkeeper makes itself (officer actions): for admins only.
#: Records about the archive itself (officer actions, holds, key rotations, disposition):
#: shown to admins only.
OWN_PLATFORM = Platform.CHATKEEPER.value


async def home(request: web.Request) -> web.Response:
    session = require_session(request)
    console = console_of(request)
    try:
        conversations = await asyncio.to_thread(console.view.conversations)
    except (ChatkeeperError, NotFoundError) as exc:
        return failure_page(request, exc)
    if not session.user.is_admin:
        conversations = [c for c in conversations if c[0].platform != OWN_PLATFORM]
    return aiohttp_jinja2.render_template(
        "home.html",
        request,
        {
            "session": session,
            "conversations": conversations,
            "formats": FORMATS,
        },
    )


def _ref(request: web.Request) -> ConversationRef:
    """The conversation of the URL; the audit trail's own records are for admins only."""
    info = request.match_info
    ref = ConversationRef(info["platform"], info["workspace"], info["conversation"])
    session = require_session(request)
    if ref.platform == OWN_PLATFORM and not session.user.is_admin:
        raise web.HTTPForbidden(text="the audit trail is for admins")
    return ref


async def conversation(request: web.Request) -> web.Response:
    session = require_session(request)
    console = console_of(request)
    ref = _ref(request)
    try:
        view = await asyncio.to_thread(console.view.conversation, ref)
    except (ChatkeeperError, NotFoundError) as exc:
        await console.audit.record(
            "conversation_opened",
            session.user.name,
            outcome=type(exc).__name__,
            client=client_of(request),
            conversation=str(ref),
        )
        return failure_page(request, exc)
    await console.audit.record(
        "conversation_opened",
        session.user.name,
        client=client_of(request),
        conversation=str(ref),
        bundles=",".join(str(n) for n in view.bundles),
        records=view.records,
    )
    return aiohttp_jinja2.render_template(
        "conversation.html",
        request,
        {"session": session, "view": view, "ref": ref, "formats": FORMATS},
    )


async def download(request: web.Request) -> web.StreamResponse:
    session = require_session(request)
    console = console_of(request)
    ref = _ref(request)
    sha256 = request.match_info["sha256"]
    if not _SHA256.fullmatch(sha256):
        raise web.HTTPNotFound(text="no such file")

    def fetch() -> tuple[str, IO[bytes]]:
        view = console.view.conversation(ref)
        attachment = view.attachment(sha256)
        if attachment is None:
            raise NotFoundError("no stored file with this hash in this conversation")
        return attachment.name, console.view.open_blob(sha256)

    try:
        name, blob = await asyncio.to_thread(fetch)
    except (ChatkeeperError, NotFoundError) as exc:
        await console.audit.record(
            "download",
            session.user.name,
            outcome=type(exc).__name__,
            client=client_of(request),
            conversation=str(ref),
            sha256=sha256,
        )
        return failure_page(request, exc)
    stream = blob  # a spooled file whose hash was checked
    try:
        await console.audit.record(
            "download",
            session.user.name,
            client=client_of(request),
            conversation=str(ref),
            sha256=sha256,
            name=name,
        )
        safe = _UNSAFE_NAME.sub("_", name).strip(" .") or "attachment"
        return await send_file(
            request,
            stream,
            "application/octet-stream",
            {"Content-Disposition": f'attachment; filename="{safe}"', "X-Checked-SHA256": sha256},
        )
    finally:
        stream.close()


async def send_file(
    request: web.Request, source: IO[bytes], content_type: str, headers: dict[str, str]
) -> web.StreamResponse:
    """Stream a (checked, spooled) file to the browser in chunks."""
    response = web.StreamResponse(headers={"Content-Type": content_type, **headers})
    await response.prepare(request)
    while chunk := await asyncio.to_thread(source.read, _CHUNK):
        await response.write(chunk)
    await response.write_eof()
    return response


async def verify(request: web.Request) -> web.Response:
    session = require_session(request)
    console = console_of(request)
    try:
        report, bundles = await asyncio.to_thread(
            lambda: (console.view.verify(), console.view.bundles())
        )
    except ChatkeeperError as exc:
        return failure_page(request, exc)
    await console.audit.record(
        "verify_viewed",
        session.user.name,
        client=client_of(request),
        intact=report.ok,
        last_bundle=report.last_bundle,
    )
    return aiohttp_jinja2.render_template(
        "verify.html",
        request,
        {
            "session": session,
            "report": report,
            "last": bundles[-1] if bundles else None,
            "checkpoint": report.newest_checkpoint,
            "matters": open_matters(report),
            "hold_findings": [f for f in report.findings if f.check == "hold"],
        },
    )


def open_matters(report: VerifyReport) -> list[Matter]:
    """The matters open at the end of the verified stream (their holds were checked)."""
    return [m for m in matters_from_events(report.events).values() if m.open]


def export_request(form: dict[str, str]) -> ExportRequest:
    """The export request from the form's fields; ConfigError (400) for bad ones."""
    fmt = form.get("format", "jsonl")
    conversation = form.get("conversation", "").strip()
    try:
        ref = ConversationRef.parse(conversation) if conversation else None
        filters = Filters(
            platform=ref.platform if ref else None,
            conversations=(ref.conversation,) if ref else (),
            start=parse_moment(form["from"]) if form.get("from") else None,
            end=parse_moment(form["to"], end_of_day=True) if form.get("to") else None,
            participant=form.get("participant") or None,
        )
        return ExportRequest(fmt, filters)
    except ValueError as exc:
        raise ConfigError(str(exc)) from exc


async def export(request: web.Request) -> web.StreamResponse:
    session = require_session(request)
    console = console_of(request)
    form = {k: str(v) for k, v in (await request.post()).items() if k != "csrf"}
    try:
        wanted = export_request(form)
        view = console.view
        result = await asyncio.to_thread(
            export_zip,
            view.store,
            view.layout,
            view.keys,
            wanted,
            operator=session.user.name,
            generator=console.generator,
            tool_version=console.version,
            now=lambda: datetime.now(UTC),
            signer=console.export_signer,
            temp_dir=console.temp_dir,
        )
    except ChatkeeperError as exc:
        await console.audit.record(
            "export",
            session.user.name,
            outcome=type(exc).__name__,
            client=client_of(request),
            request=form,
        )
        return failure_page(request, exc)
    return await zip_response(request, console, session.user.name, result, wanted.format)


async def zip_response(
    request: web.Request, console: Console, user: str, result: ZippedExport, fmt: str
) -> web.StreamResponse:
    """Archive the export, then send its zip."""
    try:
        await console.audit.record(
            "export",
            user,
            client=client_of(request),
            request=result.request,
            files=result.files,
            records_read=result.records_read,
            custody_manifest_sha256=result.manifest_sha256,
        )
        stamp = datetime.now(UTC).strftime("%Y%m%dT%H%M%SZ")
        name = f"chatkeeper-export-{fmt}-{stamp}.zip"
        return await send_file(
            request,
            result.data,
            "application/zip",
            {"Content-Disposition": f'attachment; filename="{name}"'},
        )
    finally:
        result.data.close()


def add_routes(app: web.Application) -> None:
    app.add_routes(
        [
            web.get("/", home),
            web.get("/c/{platform}/{workspace}/{conversation}", conversation),
            web.get("/c/{platform}/{workspace}/{conversation}/file/{sha256}", download),
            web.get("/verify", verify),
            web.post("/export", export),
        ]
    )
