"""Who may see what: the audit trail for admins only, account changes, sign-out, tampering refused."""

from __future__ import annotations

import hashlib
from collections.abc import AsyncIterator
from datetime import UTC, datetime, timedelta
from unittest import mock

import pytest
from aiohttp import ClientSession, CookieJar
from aiohttp.test_utils import TestServer
from yarl import URL

from archive.errors import StoreError, StoreUnavailableError
from archive.model import Kind
from archive.store.port import Retention
from console.archive_view import ArchiveView, ConversationRef
from search.indexer import update_index
from tests.console.conftest import ADMIN_PASSWORD, PASSWORD, Deployment, csrf_of, sign_in

AUDIT = "/c/chatkeeper/console/officer_actions"


@pytest.fixture
async def officer(server: TestServer) -> AsyncIterator[ClientSession]:
    async with ClientSession(cookie_jar=CookieJar(unsafe=True)) as http:
        assert await sign_in(http, f"http://127.0.0.1:{server.port}", "olivia", PASSWORD) == 302
        yield http


@pytest.fixture
async def admin(server: TestServer) -> AsyncIterator[ClientSession]:
    async with ClientSession(cookie_jar=CookieJar(unsafe=True)) as http:
        assert await sign_in(http, f"http://127.0.0.1:{server.port}", "adam", ADMIN_PASSWORD) == 302
        yield http


def base(server: TestServer) -> str:
    return f"http://127.0.0.1:{server.port}"


async def test_officer_actions_are_hidden_from_officers(
    server: TestServer, officer: ClientSession, admin: ClientSession, deployment: Deployment
) -> None:
    """Once sealed and indexed, officer actions are found and opened by admins, not by officers."""
    deployment.seal()
    view = deployment.console.view
    assert deployment.console.search is not None
    update_index(deployment.console.search, view.store, view.layout, view.keys)
    query = {"q": "kind:officer_action"}
    async with officer.get(base(server) + "/search", params=query) as answer:
        assert "0 results" in await answer.text()
    async with admin.get(base(server) + "/search", params=query) as answer:
        assert "2 results" in await answer.text()  # both sign-ins
    async with officer.get(base(server) + AUDIT) as answer:
        assert answer.status == 403
    async with officer.get(base(server) + "/") as answer:
        assert "officer_actions" not in await answer.text()
    async with admin.get(base(server) + AUDIT) as answer:
        assert answer.status == 200


async def test_admins_change_accounts_through_the_form(
    server: TestServer, officer: ClientSession, admin: ClientSession, deployment: Deployment
) -> None:
    """An admin's role change is applied and archived; an officer's post is refused."""
    async with admin.get(base(server) + "/admin/users") as answer:
        token = csrf_of(await answer.text())
    form = {"csrf": token, "name": "olivia", "change": "admin"}
    async with admin.post(base(server) + "/admin/users", data=form) as answer:
        assert answer.status == 200 and "olivia" in await answer.text()
    assert deployment.accounts.user("olivia").role == "admin"
    deployment.accounts.set_role("olivia", "officer")
    async with officer.get(base(server) + "/") as answer:
        officer_token = csrf_of(await answer.text())
    form = {"csrf": officer_token, "name": "adam", "change": "disable"}
    async with officer.post(base(server) + "/admin/users", data=form) as answer:
        assert answer.status == 403
    assert not deployment.accounts.user("adam").disabled
    changes = [
        r.details
        for r in deployment.journal.iter_records()
        if r.kind is Kind.OFFICER_ACTION and r.details["action"] == "user_changed"
    ]
    assert [(c["account"], c["change"]) for c in changes] == [("olivia", "admin")]


async def test_sign_out_ends_the_session(server: TestServer, officer: ClientSession) -> None:
    """After sign-out the old session cookie opens nothing."""
    async with officer.get(base(server) + "/") as answer:
        token = csrf_of(await answer.text())
    cookie = officer.cookie_jar.filter_cookies(URL(base(server)))["ck_session"].value
    async with officer.post(
        base(server) + "/logout", data={"csrf": token}, allow_redirects=False
    ) as answer:
        assert answer.status == 302
    async with (
        ClientSession(cookies={"ck_session": cookie}) as replay,
        replay.get(base(server) + "/", allow_redirects=False) as answer,
    ):
        assert answer.status == 302 and answer.headers["Location"] == "/login"


async def test_a_tampered_manifest_shows_nothing(
    server: TestServer, officer: ClientSession, deployment: Deployment
) -> None:
    """A manifest whose bytes changed fails its signature: the conversation page shows no record."""
    reader = deployment.reader
    real_get = reader.get
    target = deployment.policy.layout.manifest_key(2)

    def tampered(key: str, version_id: str) -> bytes:
        data = real_get(key, version_id)
        return data.replace(b'"record_count":10', b'"record_count":11') if key == target else data

    with mock.patch.object(reader, "get", side_effect=tampered):
        async with officer.get(base(server) + "/c/slack/T0001/C0DEALS01") as answer:
            assert answer.status == 409
            page = await answer.text()
    assert "Integrity failure" in page and "Price is" not in page


def test_cached_conversation_needs_the_same_manifests(deployment: Deployment) -> None:
    """A cached conversation is reused without re-reading records, but only via checked manifests."""
    view = deployment.console.view
    cached = ArchiveView(view.store, view.layout, view.keys, view.trust, cached_conversations=4)
    ref = ConversationRef("slack", "T0001", "C0DEALS01")
    first = cached.conversation(ref)
    records_key = view.layout.records_key(1)
    real_open = view.store.open

    def no_records(key: str, version_id: str):  # type: ignore[no-untyped-def]
        if key == records_key:
            raise StoreUnavailableError("records unavailable")
        return real_open(key, version_id)

    with mock.patch.object(view.store, "open", side_effect=no_records):
        assert cached.conversation(ref) is first
        with pytest.raises(StoreUnavailableError):
            ArchiveView(view.store, view.layout, view.keys, view.trust).conversation(ref)
    with (
        mock.patch.object(view.store, "versions", side_effect=StoreUnavailableError("down")),
        pytest.raises(StoreUnavailableError),
    ):
        cached.conversation(ref)  # the manifests are always listed and checked first


def test_the_console_reads_with_an_identity_that_cannot_write(deployment: Deployment) -> None:
    """The console's store is the auditor identity: S3 refuses it any write."""
    view = deployment.console.view
    retention = Retention(
        "COMPLIANCE", datetime.now(UTC).replace(microsecond=0) + timedelta(days=1)
    )
    with pytest.raises(StoreError):
        view.store.put(
            view.layout.prefix + "probe",
            b"x",
            sha256_hex=hashlib.sha256(b"x").hexdigest(),
            retention=retention,
        )
    assert [v.key for v in deployment.archiver.versions(view.layout.prefix + "probe")] == []
