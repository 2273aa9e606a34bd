"""The admins' pages: the audit trail of officer actions, and accounts."""

from __future__ import annotations

import asyncio

import aiohttp_jinja2
from aiohttp import web

from archive.errors import AccountError, ChatkeeperError
from console.archive_view import ConversationRef, NotFoundError
from console.audit import CONVERSATION, WORKSPACE, describe, pending_actions
from console.context import client_of, console_of
from console.pages_archive import failure_page
from console.settings import ROLES
from console.web_security import require_admin

AUDIT_REF = ConversationRef("chatkeeper", WORKSPACE, CONVERSATION)


async def audit(request: web.Request) -> web.Response:
    session = require_admin(request)
    console = console_of(request)
    stream = console.view.layout.stream

    def read() -> tuple[list[dict[str, object]], list[dict[str, object]]]:
        try:
            sealed = console.view.officer_actions(AUDIT_REF)
        except NotFoundError:
            sealed = []
        pending = pending_actions(console.audit.journal, stream)
        return [describe(r) for r in sealed], [describe(r) for r in pending]

    try:
        sealed, pending = await asyncio.to_thread(read)
    except ChatkeeperError as exc:
        return failure_page(request, exc)
    await console.audit.record(
        "audit_viewed", session.user.name, client=client_of(request), sealed=len(sealed)
    )
    return aiohttp_jinja2.render_template(
        "audit.html", request, {"session": session, "sealed": sealed, "pending": pending}
    )


async def users(request: web.Request) -> web.Response:
    session = require_admin(request)
    console = console_of(request)
    accounts = await asyncio.to_thread(console.accounts.users)
    return aiohttp_jinja2.render_template(
        "users.html",
        request,
        {"session": session, "users": accounts, "roles": ROLES, "now": console.clock.now()},
    )


async def change_user(request: web.Request) -> web.StreamResponse:
    session = require_admin(request)
    console = console_of(request)
    form = await request.post()
    name = str(form.get("name", ""))
    change = str(form.get("change", ""))
    accounts = console.accounts
    try:
        if change in ROLES:
            await asyncio.to_thread(accounts.set_role, name, change)
        elif change in ("disable", "enable"):
            if name == session.user.name:
                raise AccountError("an admin cannot disable their own account here")
            await asyncio.to_thread(accounts.set_disabled, name, change == "disable")
        else:
            raise AccountError(f"unknown change {change!r}")
    except AccountError as exc:
        await console.audit.record(
            "user_changed",
            session.user.name,
            outcome="refused",
            client=client_of(request),
            account=name,
            change=change,
        )
        return failure_page(request, exc)
    await console.audit.record(
        "user_changed", session.user.name, client=client_of(request), account=name, change=change
    )
    raise web.HTTPFound("/admin/users")


def add_routes(app: web.Application) -> None:
    app.add_routes(
        [
            web.get("/admin/audit", audit),
            web.get("/admin/users", users),
            web.post("/admin/users", change_user),
        ]
    )
