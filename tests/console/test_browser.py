"""The console in real headless Chromium (Debian's, driven by Playwright) on an ephemeral port.

Screenshots go to the test's temporary directory, or to $CHATKEEPER_TEST_SCREENSHOTS when set
(so that a person can look at them).
"""

from __future__ import annotations

import io
import os
import shutil
import zipfile
from collections.abc import AsyncIterator
from pathlib import Path

import pytest
from aiohttp.test_utils import TestServer
from playwright.async_api import Browser, Page, async_playwright

from archive.model import Kind
from supervision.queue import QueueStore
from tests.console.conftest import HOSTILE, PASSWORD, Deployment
from tests.exporters.export_fixtures import TERM_SHEET

CHROMIUM_ARGS = [
    "--headless",
    "--no-sandbox",
    "--disable-gpu",
    "--disable-quic",
    "--no-first-run",
    "--disable-background-networking",
    "--disable-component-update",
    "--disable-sync",
]


def _chromium() -> str:
    found = shutil.which("chromium") or "/usr/bin/chromium"
    if not Path(found).exists():
        pytest.fail("chromium is not installed (make system-deps)")
    return found


@pytest.fixture
async def browser() -> AsyncIterator[Browser]:
    async with async_playwright() as playwright:
        launched = await playwright.chromium.launch(
            executable_path=_chromium(), args=CHROMIUM_ARGS, headless=True
        )
        yield launched
        await launched.close()


@pytest.fixture
def shots(tmp_path: Path) -> Path:
    target = Path(os.environ.get("CHATKEEPER_TEST_SCREENSHOTS") or tmp_path / "shots")
    target.mkdir(parents=True, exist_ok=True)
    return target


class Watch:
    """What the page asked for and what the browser complained about."""

    def __init__(self, page: Page, base: str) -> None:
        self.foreign: list[str] = []
        self.complaints: list[str] = []
        page.on("request", lambda r: None if r.url.startswith(base) else self.foreign.append(r.url))
        page.on(
            "console",
            lambda m: self.complaints.append(m.text) if m.type in ("error", "warning") else None,
        )


async def _shot(page: Page, shots: Path, name: str) -> None:
    path = shots / f"{name}.png"
    await page.screenshot(path=str(path), full_page=True)
    assert path.read_bytes()[:8] == b"\x89PNG\r\n\x1a\n"


async def _sign_in(page: Page, base: str, name: str, password: str) -> None:
    await page.goto(f"{base}/login")
    await page.fill("input[name=name]", name)
    await page.fill("input[name=password]", password)
    await page.click("form.signin button[type=submit]")


async def test_officer_journey_in_chromium(
    browser: Browser, server: TestServer, deployment: Deployment, shots: Path
) -> None:
    """Sign in, search, open a conversation with an edit and a deletion, download, export,
    verify; each action is sealed, nothing is loaded from elsewhere, the CSP is never violated."""
    base = f"http://127.0.0.1:{server.port}"
    context = await browser.new_context(
        accept_downloads=True, viewport={"width": 1200, "height": 900}
    )
    page = await context.new_page()
    watch = Watch(page, base)

    await _sign_in(page, base, "olivia", PASSWORD)
    await page.wait_for_url(f"{base}/")
    assert await page.locator("text=C0DEALS01").count() >= 1
    await _shot(page, shots, "1-home")

    await page.fill("form.search input[name=q]", "firm")
    await page.click("form.search button[type=submit]")
    await page.wait_for_url(f"{base}/search?q=firm*")
    marks = await page.locator("p.snippet mark").all_inner_texts()
    assert marks and {m.lower() for m in marks} == {"firm"}
    await _shot(page, shots, "2-search")

    await page.locator("div.hit a").first.click()
    await page.wait_for_url(f"{base}/c/slack/T0001/C0DEALS01*")
    transcript = await page.inner_text("section.transcript")
    assert "Price is 101.25, firm until noon" in transcript
    assert "Price is 101.5, firm until noon" in transcript  # the edit history
    assert "Call me on my personal phone instead" in transcript  # the deleted text
    assert "Deleted 2026-11-02 09:10:00 UTC" in transcript
    await _shot(page, shots, "3-conversation")

    async with page.expect_download() as download_info:
        await page.click("text=term-sheet v3.pdf")
    download = await download_info.value
    assert Path(await download.path()).read_bytes() == TERM_SHEET

    await page.select_option("form.export select[name=format]", "html")
    async with page.expect_download() as export_info:
        await page.click("form.export button[type=submit]")
    export = await export_info.value
    with zipfile.ZipFile(io.BytesIO(Path(await export.path()).read_bytes())) as archive:
        assert "export-manifest.json" in archive.namelist()
        assert any(n.endswith(".html") for n in archive.namelist())
        assert "export-manifest.sig.json" in archive.namelist()

    await page.goto(f"{base}/verify")
    facts = await page.inner_text("table.facts")
    assert "INTACT" in await page.inner_text("h1")
    assert "Newest signed checkpoint\tnumber " in facts
    await _shot(page, shots, "3b-verify")

    assert watch.foreign == []
    assert not [c for c in watch.complaints if "Content Security Policy" in c]
    await context.close()

    deployment.seal()
    sealed = [
        (r.details["action"], r.actor.id if r.actor else None) for r in deployment.sealed_actions()
    ]
    assert sealed == [
        ("sign_in", "olivia"),
        ("search", "olivia"),
        ("conversation_opened", "olivia"),
        ("download", "olivia"),
        ("export", "olivia"),
        ("verify_viewed", "olivia"),
    ]


async def test_forged_csrf_token_is_refused_in_chromium(
    browser: Browser, server: TestServer, deployment: Deployment, shots: Path
) -> None:
    """A form posted with a changed CSRF token is refused with 403 and exports nothing."""
    base = f"http://127.0.0.1:{server.port}"
    page = await browser.new_page()
    await _sign_in(page, base, "olivia", PASSWORD)
    await page.wait_for_url(f"{base}/")
    await page.locator("form.export input[name=csrf]").evaluate("e => { e.value = 'forged'; }")
    async with page.expect_response(f"{base}/export") as answer_info:
        await page.click("form.export button[type=submit]")
    answer = await answer_info.value
    assert answer.status == 403
    assert "CSRF token does not match" in await page.content()
    await _shot(page, shots, "4-csrf-refused")
    deployment.seal()
    assert [r.details["action"] for r in deployment.sealed_actions()] == ["sign_in"]


async def test_wrong_passwords_lock_out_in_chromium(
    browser: Browser, server: TestServer, deployment: Deployment, shots: Path
) -> None:
    """Three wrong passwords lock the account: the right one is then refused too, all sealed."""
    base = f"http://127.0.0.1:{server.port}"
    page = await browser.new_page()
    for _ in range(3):
        await _sign_in(page, base, "olivia", "not the password")
        assert "Sign-in refused" in await page.inner_text("p.error")
    await _sign_in(page, base, "olivia", PASSWORD)
    assert "Sign-in refused" in await page.inner_text("p.error")
    assert page.url == f"{base}/login"
    await _shot(page, shots, "5-locked-out")
    deployment.seal()
    outcomes = [r.details["outcome"] for r in deployment.sealed_actions()]
    assert outcomes == ["wrong_password", "wrong_password", "locked", "locked"]


async def test_reviewer_works_the_queue_in_chromium(
    browser: Browser,
    server: TestServer,
    deployment: Deployment,
    review_queue: QueueStore,
    shots: Path,
) -> None:
    """Sign in, filter the queue, open an item with its hit highlighted, escalate it with a
    comment and see it in the history; sealed as a review_decision, no CSP complaint."""
    base = f"http://127.0.0.1:{server.port}"
    page = await browser.new_page(viewport={"width": 1200, "height": 900})
    watch = Watch(page, base)
    await _sign_in(page, base, "olivia", PASSWORD)
    await page.wait_for_url(f"{base}/")
    await page.click("nav >> text=Review queue")
    await page.wait_for_url(f"{base}/review")
    assert await page.locator("table.queue tbody tr").count() == 2

    await page.fill("form.search input[name=rule]", "whatsapp")
    await page.click("form.search button[type=submit]")
    await page.wait_for_url(f"{base}/review?*rule=whatsapp*")
    assert await page.locator("table.queue tbody tr").count() == 1
    await _shot(page, shots, "6-review-queue")

    await page.locator("table.queue tbody tr a").first.click()
    await page.wait_for_url(f"{base}/review/item/*")
    assert await page.locator("div.reviewed mark").all_inner_texts() == ["WhatsApp"]
    text = await page.inner_text("div.reviewed p.text")
    assert text == HOSTILE  # the markup shown as text, never run
    assert "Client wants an answer today" in await page.inner_text("section.transcript")

    await page.select_option("form.decide select[name=decision]", "escalated")
    await page.fill("form.decide textarea[name=comment]", "Asked to move to WhatsApp: escalate")
    await page.click("form.decide button[type=submit]")
    await page.wait_for_load_state()
    assert await page.inner_text("strong.status") == "escalated"
    history = await page.inner_text("table.history")
    assert "olivia\tescalated\tAsked to move to WhatsApp: escalate\tnot sealed yet" in history
    await _shot(page, shots, "7-review-item")

    assert watch.foreign == []
    assert not [c for c in watch.complaints if "Content Security Policy" in c]
    await page.close()
    deployment.seal()
    (sealed,) = deployment.sealed(Kind.REVIEW_DECISION)
    assert sealed.details["decision"] == "escalated"
    assert sealed.actor is not None and sealed.actor.id == "olivia"
