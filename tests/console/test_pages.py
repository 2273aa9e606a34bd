"""The console over real HTTP: sign-in, conversation view, download, export, CSRF, lock-out, audit."""

from __future__ import annotations

import hashlib
import io
import json
import zipfile
from collections.abc import AsyncIterator
from dataclasses import replace
from pathlib import Path
from typing import BinaryIO
from unittest import mock

import pytest
from aiohttp import ClientSession, CookieJar
from aiohttp.test_utils import TestServer

from archive.errors import JournalError
from archive.model import Kind
from console.app import build_console_app
from exporters.custody_signature import check_custody_signature
from tests.console.conftest import ADMIN_PASSWORD, PASSWORD, Deployment, csrf_of, sign_in
from tests.exporters.export_fixtures import TERM_SHEET

DEALS = "/c/slack/T0001/C0DEALS01"
TERM_SHA = hashlib.sha256(TERM_SHEET).hexdigest()


@pytest.fixture
async def http() -> AsyncIterator[ClientSession]:
    async with ClientSession(cookie_jar=CookieJar(unsafe=True)) as session:
        yield session


def base(server: TestServer) -> str:
    return f"http://127.0.0.1:{server.port}"


def actions(deployment: Deployment) -> list[dict[str, object]]:
    """Officer actions captured in the journal, oldest first."""
    return [
        dict(r.details, user=r.actor.id if r.actor else None)
        for r in deployment.journal.iter_records()
        if r.kind is Kind.OFFICER_ACTION
    ]


async def test_pages_need_a_session(server: TestServer, http: ClientSession) -> None:
    """Without a session every page sends the browser to the sign-in form."""
    for path in ("/", DEALS, "/verify", "/admin/audit", f"{DEALS}/file/{TERM_SHA}"):
        async with http.get(base(server) + path, allow_redirects=False) as answer:
            assert answer.status == 302, path
            assert answer.headers["Location"] == "/login"


async def test_conversation_shows_history_deletions_threads_and_events(
    server: TestServer, http: ClientSession, deployment: Deployment
) -> None:
    """The conversation page shows edits, the deleted text, thread replies, reactions and joins."""
    assert await sign_in(http, base(server), "olivia", PASSWORD) == 302
    async with http.get(base(server) + DEALS) as answer:
        assert answer.status == 200
        page = await answer.text()
    assert "Price is 101.25, firm until noon" in page
    assert "<del>Price is 101.5, firm until noon</del>" in page
    assert "Call me on my personal phone instead" in page
    assert "Deleted 2026-11-02 09:10:00 UTC by Bob Åkesson" in page
    assert 'class="thread"' in page and "مرحبا، السعر جيد" in page
    assert "thumbsup 2 (Alice Moreau &lt;alice@example.com&gt;, كارول)" in page
    assert "member joined" in page
    assert f"{DEALS}/file/{TERM_SHA}" in page
    assert "<script" not in page
    opened = [a for a in actions(deployment) if a["action"] == "conversation_opened"]
    assert opened[-1]["conversation"] == "slack:T0001:C0DEALS01"
    assert opened[-1]["user"] == "olivia"


async def test_security_headers_and_cookie_flags(server: TestServer, http: ClientSession) -> None:
    """Every answer has the strict CSP; the session cookie is HttpOnly and SameSite."""
    async with http.get(base(server) + "/login") as answer:
        csp = answer.headers["Content-Security-Policy"]
        token = csrf_of(await answer.text())
    assert "default-src 'none'" in csp and "frame-ancestors 'none'" in csp
    assert "script-src" not in csp  # no script is allowed at all
    async with http.post(
        base(server) + "/login",
        data={"csrf": token, "name": "olivia", "password": PASSWORD},
        allow_redirects=False,
    ) as answer:
        cookie = answer.headers.getall("Set-Cookie")
        assert answer.headers["X-Content-Type-Options"] == "nosniff"
    session = next(c for c in cookie if c.startswith("ck_session="))
    assert "HttpOnly" in session and "SameSite=Lax" in session
    assert "Secure" not in session  # plain HTTP here; Secure comes with public_url https


async def test_post_without_the_csrf_token_is_refused(
    server: TestServer, http: ClientSession, deployment: Deployment
) -> None:
    """A POST with no or a wrong CSRF token gets 403 and does nothing (no export, no action)."""
    async with http.post(
        base(server) + "/login", data={"name": "olivia", "password": PASSWORD}
    ) as answer:
        assert answer.status == 403
    assert await sign_in(http, base(server), "olivia", PASSWORD) == 302
    before = len(actions(deployment))
    for data in ({"format": "jsonl"}, {"format": "jsonl", "csrf": "forged"}):
        async with http.post(base(server) + "/export", data=data) as answer:
            assert answer.status == 403
            assert "CSRF" in await answer.text()
    assert len(actions(deployment)) == before


async def test_wrong_passwords_lock_the_account(
    server: TestServer, http: ClientSession, deployment: Deployment
) -> None:
    """After lockout_failures wrong passwords even the right one is refused, and each try archived."""
    for _ in range(3):
        assert await sign_in(http, base(server), "olivia", "wrong password!") == 401
    assert await sign_in(http, base(server), "olivia", PASSWORD) == 401
    failed = [a for a in actions(deployment) if a["action"] == "sign_in_failed"]
    assert [a["outcome"] for a in failed] == [
        "wrong_password",
        "wrong_password",
        "locked",
        "locked",
    ]
    assert all(a["user"] == "olivia" for a in failed)
    assert all(PASSWORD not in json.dumps(a) for a in actions(deployment))
    assert deployment.accounts.user("olivia").locked_until is not None


async def test_download_checks_the_blob_hash(
    server: TestServer, http: ClientSession, deployment: Deployment
) -> None:
    """The attachment downloads byte for byte; a blob whose bytes do not match is not served."""
    assert await sign_in(http, base(server), "olivia", PASSWORD) == 302
    async with http.get(f"{base(server)}{DEALS}/file/{TERM_SHA}") as answer:
        assert answer.status == 200
        assert await answer.read() == TERM_SHEET
        assert 'filename="term-sheet v3.pdf"' in answer.headers["Content-Disposition"]
        assert answer.headers["Content-Type"] == "application/octet-stream"
        assert answer.headers["Content-Security-Policy"].startswith("default-src 'none'")
    reader = deployment.reader
    real_open = reader.open

    def tampered(key: str, version_id: str) -> BinaryIO:
        if key == deployment.policy.layout.blob_key(TERM_SHA):
            return io.BytesIO(b"tampered bytes")
        return real_open(key, version_id)

    with mock.patch.object(reader, "open", side_effect=tampered):
        async with http.get(f"{base(server)}{DEALS}/file/{TERM_SHA}") as answer:
            assert answer.status == 409
            assert "does not match its hash" in await answer.text()
    downloads = [a for a in actions(deployment) if a["action"] == "download"]
    assert [d["outcome"] for d in downloads] == ["ok", "IntegrityError"]
    assert downloads[0]["sha256"] == TERM_SHA


async def test_export_of_a_conversation(
    server: TestServer, http: ClientSession, deployment: Deployment, tmp_path: Path
) -> None:
    """The export is a zip of the exporter's output with its custody manifest, signed with the
    console's export key, and is archived."""
    assert await sign_in(http, base(server), "olivia", PASSWORD) == 302
    async with http.get(base(server) + DEALS) as page:
        token = csrf_of(await page.text())
    form = {"csrf": token, "format": "jsonl", "conversation": "slack:T0001:C0DEALS01"}
    async with http.post(base(server) + "/export", data=form) as answer:
        assert answer.status == 200
        assert answer.headers["Content-Type"] == "application/zip"
        data = await answer.read()
    with zipfile.ZipFile(io.BytesIO(data)) as archive:
        names = archive.namelist()
        lines = archive.read("records.jsonl").decode().splitlines()
        manifest = json.loads(archive.read("export-manifest.json"))
        archive.extractall(tmp_path / "export")
    export_key = deployment.console.export_signer.public
    signed = check_custody_signature(tmp_path / "export", {export_key.key_id: export_key})
    assert signed.problems == () and signed.key_id == export_key.key_id
    assert "export-manifest.json" in names
    assert lines and all(json.loads(x)["record"]["conversation"] == "C0DEALS01" for x in lines)
    assert manifest["operator"] == "olivia"
    export = next(a for a in actions(deployment) if a["action"] == "export")
    assert export["records_read"] == manifest["records_read"]
    assert len(str(export["custody_manifest_sha256"])) == 64


async def test_export_over_a_tampered_stream_is_refused(
    server: TestServer, http: ClientSession, deployment: Deployment
) -> None:
    """An extra version beside a sealed manifest (which verify reports) refuses a console export
    with 409 and no zip, as the CLI export does, and the refusal is archived."""
    layout = deployment.policy.layout
    fake = json.dumps({"format": "chatkeeper-bundle/1", "bundle": 2}).encode()
    current = deployment.archiver.retention(layout.manifest_key(2), _first_version(deployment, 2))
    assert current is not None
    deployment.archiver.put(
        layout.manifest_key(2), fake, sha256_hex=hashlib.sha256(fake).hexdigest(), retention=current
    )
    assert await sign_in(http, base(server), "olivia", PASSWORD) == 302
    async with http.get(base(server) + DEALS) as page:
        token = csrf_of(await page.text())
    form = {"csrf": token, "format": "jsonl", "conversation": "slack:T0001:C0DEALS01"}
    async with http.post(base(server) + "/export", data=form) as answer:
        assert answer.status == 409
        assert answer.headers["Content-Type"].startswith("text/html")
        assert "extra versions written after sealing" in await answer.text()
    refused = [a for a in actions(deployment) if a["action"] == "export"]
    assert refused and refused[-1]["outcome"] == "IntegrityError"


def _first_version(deployment: Deployment, bundle: int) -> str:
    key = deployment.policy.layout.manifest_key(bundle)
    versions = [v for v in deployment.archiver.versions(key) if v.key == key]
    return versions[0].version_id


async def test_verify_page_shows_the_stream_state(server: TestServer, http: ClientSession) -> None:
    """The verify page says INTACT and names the last sealed manifest."""
    assert await sign_in(http, base(server), "olivia", PASSWORD) == 302
    async with http.get(base(server) + "/verify") as answer:
        page = await answer.text()
    assert "INTACT" in page
    assert "Last sealed manifest" in page and "bundle 3" in page


async def test_audit_trail_is_for_admins_and_shows_sealed_actions(
    server: TestServer, deployment: Deployment
) -> None:
    """Officers get 403; admins see pending actions, then the same actions sealed and verified."""
    async with ClientSession(cookie_jar=CookieJar(unsafe=True)) as officer:
        assert await sign_in(officer, base(server), "olivia", PASSWORD) == 302
        async with officer.get(base(server) + "/admin/audit") as answer:
            assert answer.status == 403
    async with ClientSession(cookie_jar=CookieJar(unsafe=True)) as admin:
        assert await sign_in(admin, base(server), "adam", ADMIN_PASSWORD) == 302
        async with admin.get(base(server) + "/admin/audit") as answer:
            page = await answer.text()
        assert "Captured, not sealed yet (2)" in page  # olivia's and adam's sign-ins
        deployment.seal()
        async with admin.get(base(server) + "/admin/audit") as answer:
            page = await answer.text()
    assert "Sealed and verified (3)" in page  # ... and adam's first audit view
    assert "sign_in" in page and "olivia" in page


async def test_an_action_that_cannot_be_archived_shows_nothing(
    server: TestServer, http: ClientSession, deployment: Deployment
) -> None:
    """If the journal cannot make the officer action durable, the conversation is not shown."""
    assert await sign_in(http, base(server), "olivia", PASSWORD) == 302
    with mock.patch.object(deployment.journal, "submit", side_effect=JournalError("disk full")):
        async with http.get(base(server) + DEALS) as answer:
            assert answer.status == 500
            assert "Price is 101.25" not in await answer.text()


async def test_every_action_is_sealed(
    server: TestServer, http: ClientSession, deployment: Deployment
) -> None:
    """Sign-in failure, sign-in, opening, download and export each end up in a sealed bundle."""
    assert await sign_in(http, base(server), "olivia", "not the password") == 401
    assert await sign_in(http, base(server), "olivia", PASSWORD) == 302
    async with http.get(base(server) + DEALS) as page:
        token = csrf_of(await page.text())
    async with http.get(f"{base(server)}{DEALS}/file/{TERM_SHA}") as answer:
        assert answer.status == 200
    async with http.post(base(server) + "/export", data={"csrf": token, "format": "csv"}) as answer:
        assert answer.status == 200
    deployment.seal()
    sealed = deployment.sealed_actions()
    assert [r.details["action"] for r in sealed] == [
        "sign_in_failed",
        "sign_in",
        "conversation_opened",
        "download",
        "export",
    ]
    assert {r.platform.value for r in sealed} == {"chatkeeper"}
    assert {r.source.value for r in sealed} == {"console"}
    assert all(json.loads(r.raw)["user"] == "olivia" for r in sealed)


async def test_every_format_exports_an_archive_with_officer_actions(
    server: TestServer, http: ClientSession, deployment: Deployment
) -> None:
    """Once officer actions are sealed, exporting everything works in each format."""
    assert await sign_in(http, base(server), "olivia", PASSWORD) == 302
    deployment.seal()
    async with http.get(base(server) + "/") as page:
        token = csrf_of(await page.text())
    for fmt in ("rsmf", "eml", "html", "slack", "jsonl", "csv"):
        async with http.post(
            base(server) + "/export", data={"csrf": token, "format": fmt}
        ) as answer:
            assert answer.status == 200, (fmt, await answer.text())
            with zipfile.ZipFile(io.BytesIO(await answer.read())) as archive:
                assert "export-manifest.json" in archive.namelist()


async def test_cookies_are_secure_behind_tls(deployment: Deployment) -> None:
    """With an https public_url the cookies are Secure and HSTS is sent."""
    deployment.console.settings = replace(
        deployment.console.settings, public_url="https://console.example.com"
    )
    server = TestServer(build_console_app(deployment.console), host="127.0.0.1", port=0)
    await server.start_server()
    try:
        async with ClientSession() as http:
            async with http.get(base(server) + "/login") as page:
                token = csrf_of(await page.text())
                assert page.headers["Strict-Transport-Security"].startswith("max-age=")
                assert "Secure" in page.headers["Set-Cookie"]
            # a browser keeps Secure cookies for https only: hand the pre-session cookie back
            async with http.post(
                base(server) + "/login",
                data={"csrf": token, "name": "olivia", "password": PASSWORD},
                headers={"Cookie": f"ck_login={token}"},
                allow_redirects=False,
            ) as answer:
                assert answer.status == 302
                cookies = answer.headers.getall("Set-Cookie")
        session = next(c for c in cookies if c.startswith("ck_session="))
        assert "Secure" in session and "HttpOnly" in session
    finally:
        await server.close()
