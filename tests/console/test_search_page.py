"""The console's search page over the real SQLite index of the sealed sample archive."""

from __future__ import annotations

import hashlib
import io
import json
import zipfile
from collections.abc import AsyncIterator

import pytest
from aiohttp import ClientSession, CookieJar
from aiohttp.test_utils import TestServer

from archive.model import Kind
from console.pages_search import full_query
from tests.console.conftest import PASSWORD, Deployment, csrf_of, sign_in


@pytest.fixture
async def http() -> AsyncIterator[ClientSession]:
    async with ClientSession(cookie_jar=CookieJar(unsafe=True)) as session:
        yield session


def base(server: TestServer) -> str:
    return f"http://127.0.0.1:{server.port}"


def searches(deployment: Deployment) -> list[dict[str, object]]:
    return [
        dict(r.details)
        for r in deployment.journal.iter_records()
        if r.kind is Kind.OFFICER_ACTION and r.details.get("action") == "search"
    ]


def test_filter_fields_become_query_terms() -> None:
    """Form filters are added to the typed query as field terms (quoted when they have spaces)."""
    form = {"q": "price", "from": "Bob Åkesson", "in": "#deals", "has": "file", "kind": ""}
    assert full_query(form) == 'price from:"Bob Åkesson" in:#deals has:file'


async def test_search_highlights_hits_and_is_archived(
    server: TestServer, http: ClientSession, deployment: Deployment
) -> None:
    """Hits show every version with the words marked; the query is archived as a search action."""
    assert await sign_in(http, base(server), "olivia", PASSWORD) == 302
    async with http.get(base(server) + "/search", params={"q": "firm", "in": "#deals"}) as answer:
        assert answer.status == 200
        page = await answer.text()
    assert "2 results" in page
    assert "<mark>firm</mark>" in page
    assert "edit 1" in page and "original" in page
    assert "/c/slack/T0001/C0DEALS01#m-" in page
    assert searches(deployment) == [
        {"action": "search", "outcome": "ok", "query": "firm in:#deals", "results": 2}
    ]


async def test_search_output_is_escaped(
    server: TestServer, http: ClientSession, deployment: Deployment
) -> None:
    """A query with markup is shown escaped, never as HTML."""
    assert await sign_in(http, base(server), "olivia", PASSWORD) == 302
    async with http.get(base(server) + "/search", params={"q": "<b>x</b> firm"}) as answer:
        page = await answer.text()
    assert "<b>x</b>" not in page
    assert "&lt;b&gt;x&lt;/b&gt;" in page


async def test_a_malformed_query_is_explained(server: TestServer, http: ClientSession) -> None:
    """A query the parser refuses shows its problem instead of results."""
    assert await sign_in(http, base(server), "olivia", PASSWORD) == 302
    async with http.get(base(server) + "/search", params={"q": "(firm"}) as answer:
        assert answer.status == 200
        page = await answer.text()
    assert "missing &#39;)&#39;" in page or "missing ')'" in page


async def test_export_of_a_result_set(
    server: TestServer, http: ClientSession, deployment: Deployment
) -> None:
    """Exporting the results writes only the matching records, with the search in the custody manifest."""
    assert await sign_in(http, base(server), "olivia", PASSWORD) == 302
    async with http.get(base(server) + "/search", params={"q": "firm"}) as answer:
        token = csrf_of(await answer.text())
    form = {"csrf": token, "q": "firm", "format": "jsonl"}
    async with http.post(base(server) + "/search/export", data=form) as answer:
        assert answer.status == 200
        data = await answer.read()
    with zipfile.ZipFile(io.BytesIO(data)) as archive:
        lines = [json.loads(x) for x in archive.read("records.jsonl").decode().splitlines()]
        manifest = json.loads(archive.read("export-manifest.json"))
    texts = sorted(line["record"]["text"] for line in lines)
    assert texts == ["Price is 101.25, firm until noon", "Price is 101.5, firm until noon"]
    assert manifest["request"]["search"]["query"] == "firm"
    keys = sorted(line["record"]["key"] for line in lines)
    digest = hashlib.sha256("\n".join(keys).encode()).hexdigest()
    assert manifest["request"]["search"]["matched_keys_sha256"] == digest
    exports = [
        r.details
        for r in deployment.journal.iter_records()
        if r.kind is Kind.OFFICER_ACTION and r.details.get("action") == "export"
    ]
    assert exports[-1]["request"]["search"]["matched_records"] == 2
