"""The console's aiohttp application: routes, templates (autoescaped), security middleware.

``build_console_app`` takes its parts already built (accounts, the verified
archive view, the audit trail, an optional OIDC client), so tests run the
real application on an ephemeral port against a real SeaweedFS and journal.
"""

from __future__ import annotations

from pathlib import Path

import aiohttp_jinja2
import jinja2
from aiohttp import web

from console import pages_admin, pages_archive, pages_auth, pages_review, pages_search
from console.context import CONSOLE_KEY, Console
from console.templating import install_filters
from console.web_security import SECURE_KEY, SESSION_KEY, security_headers, security_middleware

HERE = Path(__file__).parent


async def _search_enabled(request: web.Request) -> dict[str, object]:
    console = request.app[CONSOLE_KEY]
    return {
        "search_enabled": console.search is not None,
        "review_enabled": console.queue is not None,
    }


def build_console_app(console: Console) -> web.Application:
    app = web.Application(middlewares=[security_middleware], client_max_size=64 * 1024)
    app.on_response_prepare.append(security_headers)
    app[CONSOLE_KEY] = console
    app[SESSION_KEY] = console.accounts
    app[SECURE_KEY] = console.settings.secure_cookies
    env = aiohttp_jinja2.setup(
        app,
        loader=jinja2.FileSystemLoader(HERE / "templates"),
        autoescape=True,
        undefined=jinja2.StrictUndefined,
        context_processors=[aiohttp_jinja2.request_processor, _search_enabled],
    )
    install_filters(env)

    async def healthz(_: web.Request) -> web.Response:
        return web.json_response({"status": "ok"})

    app.add_routes([web.get("/healthz", healthz), web.static("/static", HERE / "static")])
    pages_auth.add_routes(app)
    pages_archive.add_routes(app)
    pages_admin.add_routes(app)
    pages_search.add_routes(app)
    pages_review.add_routes(app)
    return app
