"""The review pages of the console: queue filters, highlighted item, decide, assign, bulk clear,
report; every decision a sealed review_decision, every view and decision an officer action."""

from __future__ import annotations

import json
import re
from pathlib import Path

from aiohttp import ClientSession, CookieJar
from aiohttp.test_utils import TestServer

from archive.model import Kind
from supervision.queue import QueueStore
from supervision.review import ItemFilter, list_items
from tests.console.conftest import (
    ADMIN_PASSWORD,
    OTHER_CHANNEL,
    PASSWORD,
    Deployment,
    csrf_of,
    sign_in,
)

_ITEM = re.compile(r'href="/review/item/([0-9a-f]+)"')


def _items(queue: QueueStore, deployment: Deployment, **words: str) -> list[dict[str, object]]:
    f = ItemFilter(status="all", **words)  # type: ignore[arg-type]
    return list_items(queue, f, deployment.console.clock.now())


def _flagged(queue: QueueStore, deployment: Deployment) -> str:
    """The item of the off-channel message (the one with markup in it)."""
    (item,) = _items(queue, deployment, rule="whatsapp")
    return str(item["id"])


def _pending(deployment: Deployment, kind: Kind) -> list[dict[str, object]]:
    """Records of ``kind`` in the journal after the last seal."""
    last = deployment.journal.stats(deployment.policy.layout.stream).last_sealed
    after = last.seq_last if last is not None else 0
    return [
        dict(r.details) for r in deployment.journal.iter_records(after_seq=after) if r.kind is kind
    ]


async def test_queue_filters_and_is_audited(
    server: TestServer, deployment: Deployment, review_queue: QueueStore
) -> None:
    """The queue lists the open items and each filter narrows it; each view is an officer action."""
    base = f"http://127.0.0.1:{server.port}"
    async with ClientSession(cookie_jar=CookieJar(unsafe=True)) as http:
        assert await sign_in(http, base, "olivia", PASSWORD) == 302
        async with http.get(f"{base}/review") as page:
            assert page.status == 200
            assert len(set(_ITEM.findall(await page.text()))) == 2
        for query, expected in (
            ({"conversation": OTHER_CHANNEL}, 1),
            ({"rule": "whatsapp"}, 1),
            ({"policy": "desk", "queued_for": "flagged"}, 2),
            ({"queued_for": "sampled"}, 0),
            ({"participant": "Trader 2"}, 1),  # the off-channel message is by Trader 2
            ({"older_than": "3d"}, 0),  # queued just now
            ({"status": "decided"}, 0),
            ({"assignee": "-"}, 2),
        ):
            async with http.get(f"{base}/review", params=query) as page:
                assert page.status == 200, query
                assert len(set(_ITEM.findall(await page.text()))) == expected, query
        async with http.get(f"{base}/review", params={"older_than": "soon"}) as page:
            assert page.status == 400
    viewed = _pending(deployment, Kind.OFFICER_ACTION)
    actions = [d["action"] for d in viewed]
    assert actions.count("review_queue_viewed") == 10
    assert viewed[-1]["outcome"] == "refused"


async def test_item_shows_hit_marked_and_escaped_in_context(
    server: TestServer, deployment: Deployment, review_queue: QueueStore
) -> None:
    """The hit is a <mark> in the message, the message's markup is escaped, context around it."""
    base = f"http://127.0.0.1:{server.port}"
    item = _flagged(review_queue, deployment)
    async with ClientSession(cookie_jar=CookieJar(unsafe=True)) as http:
        await sign_in(http, base, "olivia", PASSWORD)
        async with http.get(f"{base}/review/item/{item}") as page:
            assert page.status == 200
            html = await page.text()
        async with http.get(f"{base}/review/item/nosuchitem") as missing:
            assert missing.status == 404
    assert "<mark>WhatsApp</mark>" in html
    assert "&lt;script&gt;alert(1)&lt;/script&gt;" in html
    assert "&lt;b&gt;easier&lt;/b&gt;" in html
    assert "<script>" not in html and "<b>" not in html
    assert html.index("Client wants an answer today") < html.index("<mark>WhatsApp</mark>")
    assert html.index("<mark>WhatsApp</mark>") < html.index("noted, talk later")
    assert "No decision yet." in html
    viewed = [d for d in _pending(deployment, Kind.OFFICER_ACTION) if d["action"] != "sign_in"]
    assert [(d["action"], d["item"], d["outcome"]) for d in viewed] == [
        ("review_item_viewed", item, "ok"),
        ("review_item_viewed", "nosuchitem", "not_found"),
    ]


async def test_decision_forms_refuse_a_missing_or_forged_csrf_token(
    server: TestServer, deployment: Deployment, review_queue: QueueStore
) -> None:
    """Decide, assign and bulk clear without the session's CSRF token: 403, nothing recorded."""
    base = f"http://127.0.0.1:{server.port}"
    item = _flagged(review_queue, deployment)
    async with ClientSession(cookie_jar=CookieJar(unsafe=True)) as http:
        await sign_in(http, base, "olivia", PASSWORD)
        for path, form in (
            (f"/review/item/{item}/decide", {"decision": "cleared", "comment": "fine"}),
            (f"/review/item/{item}/assign", {"assignee": "adam"}),
            ("/review/clear", {"item": item, "reason": "noise"}),
        ):
            for token in ({}, {"csrf": "forged"}):
                async with http.post(
                    f"{base}{path}", data={**form, **token}, allow_redirects=False
                ) as answer:
                    assert answer.status == 403, (path, token)
        assert review_queue.query("SELECT count(*) FROM decisions")[0][0] == 0
        assert _pending(deployment, Kind.REVIEW_DECISION) == []
        async with http.get(f"{base}/review/item/{item}") as page:
            token = csrf_of(await page.text())
        async with http.post(
            f"{base}/review/item/{item}/assign",
            data={"csrf": token, "assignee": "adam"},
            allow_redirects=False,
        ) as answer:
            assert answer.status == 302  # the same form with the session's token is taken
    assert [d["assignee"] for d in _pending(deployment, Kind.REVIEW_DECISION)] == ["adam"]


async def test_decision_is_recorded_then_sealed_as_review_decision(
    server: TestServer, deployment: Deployment, review_queue: QueueStore
) -> None:
    """An escalation with a comment is in the history, then sealed as a review_decision record."""
    base = f"http://127.0.0.1:{server.port}"
    item = _flagged(review_queue, deployment)
    async with ClientSession(cookie_jar=CookieJar(unsafe=True)) as http:
        await sign_in(http, base, "olivia", PASSWORD)
        async with http.get(f"{base}/review/item/{item}") as page:
            token = csrf_of(await page.text())
        async with http.post(
            f"{base}/review/item/{item}/decide",
            data={"csrf": token, "decision": "escalated", "comment": "asked to move <off> channel"},
            allow_redirects=False,
        ) as answer:
            assert answer.status == 302
            assert answer.headers["Location"] == f"/review/item/{item}"
        async with http.get(f"{base}/review/item/{item}") as page:
            html = await page.text()
        assert "asked to move &lt;off&gt; channel" in html
        assert "not sealed yet" in html
        assert '<strong class="status">escalated</strong>' in html

        deployment.seal()
        (sealed,) = deployment.sealed(Kind.REVIEW_DECISION)
        payload = json.loads(sealed.raw)
        assert (payload["item"], payload["decision"], payload["reviewer"]) == (
            item,
            "escalated",
            "olivia",
        )
        assert payload["comment"] == "asked to move <off> channel"
        assert payload["policy"] == "desk"
        actions = [r.details for r in deployment.sealed_actions()]
        (decided,) = [a for a in actions if a["action"] == "review_decided"]
        assert decided["decision_ids"] == [payload["decision_id"]]
        assert "comment" not in decided

        deployment.screen(review_queue)  # the queue reads the decision back from its bundle
        async with http.get(f"{base}/review/item/{item}") as page:
            assert re.search(r"sealed in bundle \d+", await page.text())


async def test_decision_without_comment_or_unknown_is_refused(
    server: TestServer, deployment: Deployment, review_queue: QueueStore
) -> None:
    """A decision needs a comment and one of the three outcomes; a refusal records nothing."""
    base = f"http://127.0.0.1:{server.port}"
    item = _flagged(review_queue, deployment)
    async with ClientSession(cookie_jar=CookieJar(unsafe=True)) as http:
        await sign_in(http, base, "olivia", PASSWORD)
        async with http.get(f"{base}/review/item/{item}") as page:
            token = csrf_of(await page.text())
        for form in (
            {"decision": "cleared", "comment": "  "},
            {"decision": "ignored", "comment": "why not"},
        ):
            async with http.post(
                f"{base}/review/item/{item}/decide", data={"csrf": token, **form}
            ) as answer:
                assert answer.status == 400
    assert _pending(deployment, Kind.REVIEW_DECISION) == []
    refused = [
        d for d in _pending(deployment, Kind.OFFICER_ACTION) if d["action"] == "review_decided"
    ]
    assert [d["outcome"] for d in refused] == ["ConfigError", "ConfigError"]


async def test_assign_and_reassign(
    server: TestServer, deployment: Deployment, review_queue: QueueStore
) -> None:
    """An item assigned to one reviewer, then reassigned: both in the history, the filter follows."""
    base = f"http://127.0.0.1:{server.port}"
    item = _flagged(review_queue, deployment)
    async with ClientSession(cookie_jar=CookieJar(unsafe=True)) as http:
        await sign_in(http, base, "adam", ADMIN_PASSWORD)
        async with http.get(f"{base}/review/item/{item}") as page:
            token = csrf_of(await page.text())
        for who in ("adam", "olivia"):
            async with http.post(
                f"{base}/review/item/{item}/assign",
                data={"csrf": token, "assignee": who, "comment": "desk rota"},
                allow_redirects=False,
            ) as answer:
                assert answer.status == 302
        async with http.get(f"{base}/review/item/{item}") as page:
            html = await page.text()
        async with http.get(f"{base}/review", params={"assignee": "olivia"}) as page:
            assert set(_ITEM.findall(await page.text())) == {item}
    assert "assigned to adam" in html and "assigned to olivia" in html
    assert "assigned to olivia</p>" in html  # the item's state, at the top
    assigned = _pending(deployment, Kind.REVIEW_DECISION)
    assert [(d["action"], d["assignee"], d["reviewer"]) for d in assigned] == [
        ("assign", "adam", "adam"),
        ("assign", "olivia", "adam"),
    ]


async def test_bulk_clear_selected_with_a_reason(
    server: TestServer, deployment: Deployment, review_queue: QueueStore
) -> None:
    """The selected open items are cleared with the reason; without items or reason: refused."""
    base = f"http://127.0.0.1:{server.port}"
    ids = [str(i["id"]) for i in _items(review_queue, deployment)]
    async with ClientSession(cookie_jar=CookieJar(unsafe=True)) as http:
        await sign_in(http, base, "olivia", PASSWORD)
        async with http.get(f"{base}/review") as page:
            token = csrf_of(await page.text())
        async with http.post(
            f"{base}/review/clear", data={"csrf": token, "reason": "noise"}
        ) as answer:
            assert answer.status == 400
        async with http.post(
            f"{base}/review/clear", data=[("csrf", token), ("item", ids[0]), ("reason", "")]
        ) as answer:
            assert answer.status == 400
        assert _pending(deployment, Kind.REVIEW_DECISION) == []
        form = [("csrf", token), ("reason", "test messages of the desk"), ("policy", "desk")]
        form += [("item", i) for i in ids]
        async with http.post(f"{base}/review/clear", data=form, allow_redirects=False) as answer:
            assert answer.status == 302
            assert answer.headers["Location"] == "/review?policy=desk&cleared=2"
        async with http.get(f"{base}/review?policy=desk&cleared=2") as page:
            html = await page.text()
    assert "Cleared 2 item(s)" in html and not _ITEM.findall(html)
    cleared = _pending(deployment, Kind.REVIEW_DECISION)
    assert sorted(d["item"] for d in cleared) == sorted(ids)
    actions = [
        d for d in _pending(deployment, Kind.OFFICER_ACTION) if d["action"] == "review_cleared"
    ]
    assert [a["outcome"] for a in actions] == ["ConfigError", "ConfigError", "ok"]
    assert sorted(actions[-1]["items"]) == sorted(ids)  # type: ignore[arg-type]
    assert {d["decision"] for d in cleared} == {"cleared"}


async def test_report_page_per_policy_and_period(
    server: TestServer, deployment: Deployment, review_queue: QueueStore
) -> None:
    """The report shows the policy's counts and decisions for the period, and an empty period."""
    base = f"http://127.0.0.1:{server.port}"
    item = _flagged(review_queue, deployment)
    async with ClientSession(cookie_jar=CookieJar(unsafe=True)) as http:
        await sign_in(http, base, "olivia", PASSWORD)
        async with http.get(f"{base}/review/item/{item}") as page:
            token = csrf_of(await page.text())
        async with http.post(
            f"{base}/review/item/{item}/decide",
            data={"csrf": token, "decision": "escalated", "comment": "to compliance"},
        ) as answer:
            assert answer.status == 200
        period = {"from": "2020-01-01", "to": "2030-12-31", "policy": "desk"}
        async with http.get(f"{base}/review/report", params=period) as page:
            html = await page.text()
        async with http.get(
            f"{base}/review/report", params={"from": "2000-01-01", "to": "2000-01-31"}
        ) as page:
            empty = await page.text()
        async with http.get(
            f"{base}/review/report", params={"from": "2030-01-01", "to": "2000-01-31"}
        ) as page:
            assert page.status == 400
    assert "Policy desk" in html
    assert "<th>items</th><td>2</td>" in html
    assert "<th>decisions escalated</th><td>1</td>" in html
    assert "<td>olivia</td><td>0</td><td>1</td><td>0</td>" in html
    assert "No screened messages in that period." in empty


async def test_review_pages_only_with_a_queue(
    server: TestServer, deployment: Deployment, tmp_path: Path
) -> None:
    """With no supervision configured the review pages are 404 and not in the menu; with a
    queue they are there for officers."""
    base = f"http://127.0.0.1:{server.port}"
    async with ClientSession(cookie_jar=CookieJar(unsafe=True)) as http:
        await sign_in(http, base, "olivia", PASSWORD)
        async with http.get(f"{base}/") as page:
            assert 'href="/review"' not in await page.text()
        async with http.get(f"{base}/review") as page:
            assert page.status == 404
        with QueueStore(tmp_path / "empty.db") as queue:
            deployment.console.queue = queue
            async with http.get(f"{base}/") as page:
                assert 'href="/review"' in await page.text()
            async with http.get(f"{base}/review") as page:
                assert page.status == 200
                assert "0 items" in await page.text()
            deployment.console.queue = None
