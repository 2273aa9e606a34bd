"""The verify page: the newest signed checkpoint and, while matters are open, their legal holds."""

from __future__ import annotations

from collections.abc import AsyncIterator

import pytest
from aiohttp import ClientSession, CookieJar
from aiohttp.test_utils import TestServer

from archive.clock import FixedClock
from archive.holds import HoldContext, Officer, create_hold
from archive.matters import Scope
from archive.store.local_s3 import LocalS3Endpoint
from archive.verify import verify_stream
from tests.archive.conftest import duty_store
from tests.console.conftest import PASSWORD, Deployment, sign_in


@pytest.fixture
async def http() -> AsyncIterator[ClientSession]:
    async with ClientSession(cookie_jar=CookieJar(unsafe=True)) as session:
        yield session


async def verify_page(server: TestServer, http: ClientSession) -> str:
    url = f"http://127.0.0.1:{server.port}"
    assert await sign_in(http, url, "olivia", PASSWORD) == 302
    async with http.get(url + "/verify") as answer:
        assert answer.status == 200
        return await answer.text()


async def test_verify_page_shows_the_newest_signed_checkpoint(
    server: TestServer, http: ClientSession, deployment: Deployment
) -> None:
    """The page names the newest checkpoint verify reports (its number and last bundle)."""
    keys = {deployment.signer.public.key_id: deployment.signer.public}
    newest = verify_stream(deployment.reader, deployment.policy.layout, keys).newest_checkpoint
    assert newest is not None
    page = await verify_page(server, http)
    assert "INTACT" in page
    assert f"number {newest['number']} at" in page
    assert f"last bundle {newest['last_bundle']}" in page
    assert "Legal holds" not in page  # no matter is open


async def test_verify_page_shows_open_matters_and_a_missing_hold(
    server: TestServer,
    http: ClientSession,
    deployment: Deployment,
    s3_endpoint: LocalS3Endpoint,
    console_bucket: str,
    clock: FixedClock,
) -> None:
    """An open matter shows with the objects checked; a hold removed behind its back shows."""
    legal = duty_store(s3_endpoint, console_bucket, "legal")
    ctx = HoldContext(
        deployment.journal,
        deployment.archiver,
        legal,
        deployment.signer,
        deployment.policy,
        clock,
    )
    matter = create_hold(
        ctx, "matter-42", Scope(conversations=("C0DEALS01",)), Officer("lee", clock.now())
    )
    assert matter.objects
    page = await verify_page(server, http)
    assert "1 open matter(s)" in page and "matter-42" in page
    assert f"{len(matter.objects)} object(s) checked" in page and "all held" in page
    key, version = sorted(matter.objects)[0]
    legal.set_legal_hold(key, version, False)
    async with http.get(f"http://127.0.0.1:{server.port}/verify") as answer:
        broken = await answer.text()
    assert "INTEGRITY FAILURE" in broken
    assert "1 without the hold" in broken and "does not carry the legal hold" in broken
