"""Security of every console response and request: headers, sessions, CSRF, roles.

- Every response carries a strict Content-Security-Policy (no script at all,
  styles and images from the console only, forms post only to the console,
  no framing), ``X-Content-Type-Options: nosniff``, ``Referrer-Policy:
  no-referrer`` and ``Cache-Control: no-store``.
- The session cookie is HttpOnly, SameSite=Lax and Secure when the console is
  served over TLS (``console.public_url`` https, or ``cookie_secure``).
- Every POST must carry the CSRF token of its session (or, for the sign-in
  form, the token of the pre-session cookie) in the ``csrf`` form field;
  anything else is refused with 403 before the handler runs.
"""

from __future__ import annotations

import asyncio
import secrets
from collections.abc import Awaitable, Callable
from typing import Any

from aiohttp import web

from console.accounts import AccountStore, Session

CSP = (
    "default-src 'none'; style-src 'self'; img-src 'self'; form-action 'self'; "
    "frame-ancestors 'none'; base-uri 'none'"
)
SESSION_COOKIE = "ck_session"
LOGIN_COOKIE = "ck_login"
OIDC_COOKIE = "ck_oidc"
SESSION_KEY = web.AppKey("accounts", AccountStore)
SESSION: web.RequestKey[Session | None] = web.RequestKey("session")
NEW_LOGIN_TOKEN = web.RequestKey("new_login_token", str)
SECURE_KEY = web.AppKey("secure_cookies", bool)

Handler = Callable[[web.Request], Awaitable[web.StreamResponse]]
PUBLIC_PATHS = frozenset(
    {"/login", "/healthz", "/static/console.css", "/oidc/start", "/oidc/callback"}
)


def set_cookie(request: web.Request, response: web.StreamResponse, name: str, value: str) -> None:
    response.set_cookie(
        name,
        value,
        httponly=True,
        samesite="Lax",
        secure=request.app[SECURE_KEY],
        path="/",
    )


def clear_cookie(request: web.Request, response: web.StreamResponse, name: str) -> None:
    response.del_cookie(name, path="/", secure=request.app[SECURE_KEY], samesite="Lax")


def current_session(request: web.Request) -> Session | None:
    return request.get(SESSION)


def require_session(request: web.Request) -> Session:
    session = current_session(request)
    if session is None:
        raise web.HTTPFound("/login")
    return session


def require_admin(request: web.Request) -> Session:
    session = require_session(request)
    if not session.user.is_admin:
        raise web.HTTPForbidden(text="admins only")
    return session


def login_token(request: web.Request) -> str:
    """The sign-in form's CSRF token: the pre-session cookie's, or a new one."""
    token = request.cookies.get(LOGIN_COOKIE) or request.get(NEW_LOGIN_TOKEN)
    if not token:
        token = request[NEW_LOGIN_TOKEN] = secrets.token_urlsafe(32)
    return token


@web.middleware
async def security_middleware(request: web.Request, handler: Handler) -> web.StreamResponse:
    """Load the session, refuse forged POSTs, and set or drop cookies."""
    accounts = request.app[SESSION_KEY]
    cookie = request.cookies.get(SESSION_COOKIE)
    session = None
    if cookie:
        session = await _in_thread(accounts.session, cookie)
    request[SESSION] = session
    try:
        if request.method not in ("GET", "HEAD"):
            await _check_csrf(request, session)
        if session is None and request.path not in PUBLIC_PATHS:
            raise web.HTTPFound("/login")
        response = await handler(request)
    except web.HTTPException as exc:
        _finish(request, exc, cookie, session)
        raise
    _finish(request, response, cookie, session)
    return response


def _finish(
    request: web.Request, response: web.StreamResponse, cookie: str | None, session: Session | None
) -> None:
    """Cookies to set or drop (a streamed response has set its own already)."""
    if response.prepared:
        return
    new_token = request.get(NEW_LOGIN_TOKEN)
    if new_token:
        set_cookie(request, response, LOGIN_COOKIE, new_token)
    if cookie and session is None and request.path != "/login":
        clear_cookie(request, response, SESSION_COOKIE)


async def security_headers(request: web.Request, response: web.StreamResponse) -> None:
    """``on_response_prepare``: the security headers on every response, streamed ones too."""
    headers = response.headers
    headers["Content-Security-Policy"] = CSP
    headers["X-Content-Type-Options"] = "nosniff"
    headers["Referrer-Policy"] = "no-referrer"
    headers["X-Frame-Options"] = "DENY"
    headers.setdefault("Cache-Control", "no-store")
    if request.app[SECURE_KEY]:
        headers["Strict-Transport-Security"] = "max-age=31536000"


async def _check_csrf(request: web.Request, session: Session | None) -> None:
    form = await request.post()
    sent = form.get("csrf")
    if not isinstance(sent, str) or not sent:
        raise web.HTTPForbidden(text="CSRF token missing: reload the page and try again")
    if request.path == "/login":
        expected = request.cookies.get(LOGIN_COOKIE, "")
    elif session is not None:
        expected = session.csrf
    else:
        raise web.HTTPFound("/login")
    if not expected or not secrets.compare_digest(sent, expected):
        raise web.HTTPForbidden(text="CSRF token does not match: reload the page and try again")


async def _in_thread(func: Callable[..., Any], *args: Any) -> Any:
    return await asyncio.to_thread(func, *args)
