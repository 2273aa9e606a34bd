"""Sign-in (local password or OpenID Connect) and sign-out; every attempt is archived."""

from __future__ import annotations

import asyncio

import aiohttp_jinja2
from aiohttp import web

from archive.errors import AccountError
from console.accounts import SignIn, User
from console.audit import ANONYMOUS
from console.context import Console, client_of, console_of
from console.oidc import Identity, OidcError
from console.web_security import (
    OIDC_COOKIE,
    SESSION_COOKIE,
    clear_cookie,
    current_session,
    login_token,
    set_cookie,
)

REFUSED = "Sign-in refused: wrong name or password, or the account is locked or disabled."


def _login_page(request: web.Request, message: str | None, status: int = 200) -> web.Response:
    console = console_of(request)
    return aiohttp_jinja2.render_template(
        "login.html",
        request,
        {
            "csrf": login_token(request),
            "message": message,
            "oidc": console.oidc is not None,
            "session": None,
        },
        status=status,
    )


async def login_form(request: web.Request) -> web.Response:
    if current_session(request) is not None:
        raise web.HTTPFound("/")
    return _login_page(request, None)


async def login(request: web.Request) -> web.StreamResponse:
    console = console_of(request)
    form = await request.post()
    name = str(form.get("name", "")).strip()[:100]
    password = str(form.get("password", ""))
    outcome, user = await asyncio.to_thread(console.accounts.check_password, name, password)
    del password
    if outcome is not SignIn.OK or user is None:
        await console.audit.record(
            "sign_in_failed",
            user.name if user is not None else ANONYMOUS,
            outcome=outcome.value,
            client=client_of(request),
            method="password",
            attempted_name=name,
            locked=bool(user and user.locked_until),
        )
        return _login_page(request, REFUSED, status=401)
    await _open_session(request, console, user, "password")
    raise web.HTTPInternalServerError  # _open_session always redirects


async def _open_session(request: web.Request, console: Console, user: User, method: str) -> None:
    """Archive the sign-in, open a fresh session and redirect (raises HTTPFound)."""
    await console.audit.record(
        "sign_in", user.name, client=client_of(request), method=method, role=user.role
    )
    old = request.cookies.get(SESSION_COOKIE)
    if old:
        await asyncio.to_thread(console.accounts.close_session, old)
    session_id = await asyncio.to_thread(console.accounts.open_session, user.name)
    response = web.HTTPFound("/")
    set_cookie(request, response, SESSION_COOKIE, session_id)
    raise response


async def logout(request: web.Request) -> web.StreamResponse:
    console = console_of(request)
    session = current_session(request)
    cookie = request.cookies.get(SESSION_COOKIE)
    if session is not None and cookie:
        await console.audit.record("sign_out", session.user.name, client=client_of(request))
        await asyncio.to_thread(console.accounts.close_session, cookie)
    response = web.HTTPFound("/login")
    clear_cookie(request, response, SESSION_COOKIE)
    raise response


async def oidc_start(request: web.Request) -> web.StreamResponse:
    console = console_of(request)
    if console.oidc is None:
        raise web.HTTPNotFound(text="OpenID Connect is not configured")
    try:
        url, state = await console.oidc.start()
    except OidcError:
        return _login_page(request, "The identity provider cannot be reached.", status=502)
    response = web.HTTPFound(url)
    set_cookie(request, response, OIDC_COOKIE, state)
    raise response


async def oidc_callback(request: web.Request) -> web.StreamResponse:
    console = console_of(request)
    if console.oidc is None:
        raise web.HTTPNotFound(text="OpenID Connect is not configured")
    state = request.query.get("state", "")
    code = request.query.get("code", "")
    try:
        if not state or not code:
            raise OidcError("the provider sent no code or state")
        identity = await console.oidc.finish(state, request.cookies.get(OIDC_COOKIE), code)
        user = await asyncio.to_thread(_oidc_user, console, identity)
    except (OidcError, AccountError) as exc:
        await console.audit.record(
            "sign_in_failed",
            ANONYMOUS,
            outcome="oidc_refused",
            client=client_of(request),
            method="oidc",
            reason=str(exc)[:200],
        )
        refused = _login_page(request, "Sign-in with the identity provider was refused.", 401)
        clear_cookie(request, refused, OIDC_COOKIE)
        return refused
    try:
        await _open_session(request, console, user, "oidc")
    except web.HTTPFound as found:
        clear_cookie(request, found, OIDC_COOKIE)
        raise
    raise web.HTTPInternalServerError  # _open_session always redirects


def _oidc_user(console: Console, identity: Identity) -> User:
    """The account bound to this subject (created if the settings allow it)."""
    settings = console.settings
    accounts = console.accounts
    user = accounts.user_by_subject(identity.subject)
    role = settings.oidc_default_role
    if settings.oidc_role_claim:
        role = "admin" if "admin" in identity.roles else "officer"
        if "admin" not in identity.roles and "officer" not in identity.roles:
            raise AccountError("the ID token grants no console role")
    if user is None:
        if not settings.oidc_create_users:
            raise AccountError("no console account is bound to this identity")
        name = identity.email or identity.name or f"oidc-{identity.subject[:40]}"
        user = accounts.add_user(name, role, None, oidc_subject=identity.subject)
    if user.disabled:
        raise AccountError("the account is disabled")
    if settings.oidc_role_claim and user.role != role:
        user = accounts.set_role(user.name, role)
    return user


def add_routes(app: web.Application) -> None:
    app.add_routes(
        [
            web.get("/login", login_form),
            web.post("/login", login),
            web.post("/logout", logout),
            web.get("/oidc/start", oidc_start),
            web.get("/oidc/callback", oidc_callback),
        ]
    )
