"""OpenID Connect sign-in against a fake provider over loopback, with real signed ID tokens."""

from __future__ import annotations

from collections.abc import AsyncIterator
from dataclasses import replace

import pytest
from aiohttp import ClientSession, CookieJar
from aiohttp.test_utils import TestServer

from archive.model import Kind
from console.oidc import OidcClient
from tests.console.conftest import Deployment
from tests.console.oidc_provider import CLIENT_ID, CLIENT_SECRET, FakeProvider, start_provider


@pytest.fixture
async def provider(server: TestServer, deployment: Deployment) -> AsyncIterator[FakeProvider]:
    """The fake provider, and the console configured to use it."""
    fake = FakeProvider()
    provider_server = await start_provider(fake)
    fake.redirect_uri = f"http://127.0.0.1:{server.port}/oidc/callback"
    deployment.console.oidc = OidcClient(fake.issuer, CLIENT_ID, CLIENT_SECRET, fake.redirect_uri)
    deployment.accounts.add_user("olivia-idp", "officer", None, oidc_subject=fake.subject)
    yield fake
    await provider_server.close()


@pytest.fixture
async def http() -> AsyncIterator[ClientSession]:
    async with ClientSession(cookie_jar=CookieJar(unsafe=True)) as session:
        yield session


async def _flow(http: ClientSession, console: TestServer, *, tamper_state: bool = False) -> int:
    """Browser steps: console -> provider -> console callback; the callback's status."""
    base = f"http://127.0.0.1:{console.port}"
    async with http.get(f"{base}/oidc/start", allow_redirects=False) as start:
        assert start.status == 302
        authorize = start.headers["Location"]
    async with http.get(authorize, allow_redirects=False) as answer:
        assert answer.status == 302, await answer.text()
        callback = answer.headers["Location"]
    if tamper_state:
        callback = callback.replace("state=", "state=x")
    async with http.get(callback, allow_redirects=False) as answer:
        return answer.status


async def _home_status(http: ClientSession, console: TestServer) -> int:
    async with http.get(f"http://127.0.0.1:{console.port}/", allow_redirects=False) as answer:
        return answer.status


def _outcomes(deployment: Deployment) -> list[tuple[str, str, str]]:
    return [
        (str(r.details["action"]), str(r.details["outcome"]), r.actor.id if r.actor else "")
        for r in deployment.journal.iter_records()
        if r.kind is Kind.OFFICER_ACTION
    ]


@pytest.mark.parametrize("alg", ["RS256", "ES256"])
async def test_sign_in_with_the_provider(
    alg: str,
    provider: FakeProvider,
    server: TestServer,
    http: ClientSession,
    deployment: Deployment,
) -> None:
    """A valid ID token (RS256 or ES256) opens a session for the account bound to its subject."""
    provider.alg = alg
    assert await _flow(http, server) == 302
    assert await _home_status(http, server) == 200
    assert _outcomes(deployment) == [("sign_in", "ok", "olivia-idp")]


async def test_a_forged_id_token_is_refused(
    provider: FakeProvider, server: TestServer, http: ClientSession, deployment: Deployment
) -> None:
    """A token signed by a key the provider does not publish opens no session, and is archived."""
    provider.forge = True
    assert await _flow(http, server) == 401
    assert await _home_status(http, server) == 302
    assert _outcomes(deployment) == [("sign_in_failed", "oidc_refused", "anonymous")]


async def test_a_wrong_nonce_is_refused(
    provider: FakeProvider, server: TestServer, http: ClientSession
) -> None:
    """An ID token that does not carry the nonce the console sent is refused."""
    provider.wrong_nonce = True
    assert await _flow(http, server) == 401
    assert await _home_status(http, server) == 302


async def test_a_changed_state_is_refused_before_the_code_is_redeemed(
    provider: FakeProvider, server: TestServer, http: ClientSession
) -> None:
    """A callback whose state is not this browser's is refused without calling the token endpoint."""
    assert await _flow(http, server, tamper_state=True) == 401
    assert provider.token_requests == 0
    assert await _home_status(http, server) == 302


async def test_an_unbound_subject_needs_oidc_create_users(
    provider: FakeProvider, server: TestServer, http: ClientSession, deployment: Deployment
) -> None:
    """An unknown subject is refused by default; with oidc_create_users it gets an officer account."""
    provider.subject = "sub-someone-new"
    assert await _flow(http, server) == 401
    deployment.console.settings = replace(deployment.console.settings, oidc_create_users=True)
    assert await _flow(http, server) == 302
    user = deployment.accounts.user_by_subject("sub-someone-new")
    assert user is not None and user.name == "olivia@example.com" and user.role == "officer"
