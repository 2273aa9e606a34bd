"""Each metric of /metrics, moved by driving the real path of `chatkeeper serve`."""

from __future__ import annotations

import asyncio
from collections.abc import AsyncIterator, Callable
from dataclasses import dataclass
from pathlib import Path
from typing import Any
from unittest import mock

import aiohttp
import pytest
from prometheus_client.parser import text_string_to_metric_families

from archive import observe
from archive.errors import JournalError
from archive.journal.sqlite import SqliteJournal
from archive.store.local_s3 import LocalS3Endpoint
from bots.slack.sandbox import FakeFile, RunningFakeSlack, SlackSender, envelope, serve_fake_slack
from bots.telegram.sandbox import payloads as telegram_payloads
from bots.telegram.sandbox.fake_api import FakeBotApi
from chatkeeper.metrics import Metrics
from chatkeeper.serve import serve
from chatkeeper.settings import Settings, load_settings
from tests.bots.slack.conftest import PUBLIC, SECRET, TEAM, sandbox_state, start_harness
from tests.bots.telegram.conftest import TOKEN

Samples = dict[tuple[str, tuple[tuple[str, str], ...]], float]


def parse(text: str) -> Samples:
    return {
        (s.name, tuple(sorted(s.labels.items()))): s.value
        for family in text_string_to_metric_families(text)
        for s in family.samples
    }


def base_env(home: Path, endpoint: LocalS3Endpoint, bucket: str) -> dict[str, str]:
    creds = endpoint.archiver
    return {
        "CHATKEEPER_HOME": str(home),
        "CHATKEEPER_S3_ENDPOINT": endpoint.url,
        "CHATKEEPER_S3_BUCKET": bucket,
        "CHATKEEPER_S3_ACCESS_KEY": creds.access_key,
        "CHATKEEPER_S3_SECRET_KEY": creds.secret_key,
        "CHATKEEPER_ARCHIVE_RETENTION_DAYS": "1",
        "CHATKEEPER_ARCHIVE_MIN_RETENTION_DAYS": "1",
        "CHATKEEPER_SERVER_PORT": "0",
        "CHATKEEPER_CAPTURE_MODE": "all",
    }


def slack_env(fake: RunningFakeSlack) -> dict[str, str]:
    return {
        "CHATKEEPER_SLACK_ENABLED": "true",
        "CHATKEEPER_SLACK_SIGNING_SECRET": SECRET,
        "CHATKEEPER_SLACK_BOT_TOKEN": fake.state.token,
        "CHATKEEPER_SLACK_API_BASE_URL": fake.api_base_url,
        "CHATKEEPER_SLACK_FILE_HOSTS": fake.file_host,
    }


@dataclass
class Served:
    url: str
    http: aiohttp.ClientSession

    async def samples(self) -> Samples:
        async with self.http.get(f"{self.url}/metrics") as response:
            assert response.status == 200
            return parse(await response.text())

    async def until(self, ready: Callable[[Samples], bool], tries: int = 200) -> Samples:
        """Scrape until ``ready`` holds (bounded); the last scrape either way."""
        samples = await self.samples()
        for _ in range(tries):
            if ready(samples):
                break
            await asyncio.sleep(0.1)
            samples = await self.samples()
        return samples


@pytest.fixture
def running() -> Callable[[Settings], AsyncIterator[Served]]:
    async def start(settings: Settings) -> AsyncIterator[Served]:
        stop = asyncio.Event()
        ports: list[int] = []
        task = asyncio.create_task(serve(settings, stop=stop, on_ready=ports.append))
        for _ in range(300):
            if ports or task.done():
                break
            await asyncio.sleep(0.05)
        assert ports, task.exception() if task.done() else "serve did not start"
        try:
            async with aiohttp.ClientSession() as http:
                yield Served(f"http://127.0.0.1:{ports[0]}", http)
        finally:
            stop.set()
            await asyncio.wait_for(task, 60)

    return start


@pytest.fixture
async def fake_slack() -> AsyncIterator[RunningFakeSlack]:
    fake = await serve_fake_slack(sandbox_state())
    yield fake
    await fake.close()


def _message(text: str, ts: str) -> dict[str, Any]:
    return {
        "type": "message",
        "channel": PUBLIC,
        "user": "U0ALICE01",
        "text": text,
        "ts": ts,
        "channel_type": "channel",
    }


async def test_signed_slack_delivery_moves_captured_counter_and_ack_histogram(
    tmp_path: Path,
    s3_endpoint: LocalS3Endpoint,
    bucket: str,
    fake_slack: RunningFakeSlack,
    running: Callable[[Settings], AsyncIterator[Served]],
) -> None:
    """A signed message over loopback counts one slack/message capture and one ack, no ids in labels."""
    env = {**base_env(tmp_path / "home", s3_endpoint, bucket), **slack_env(fake_slack)}
    async for served in running(load_settings(env=env)):
        sender = SlackSender(served.http, served.url, SECRET)
        delivered = await sender.event(
            envelope(TEAM, _message("quarterly numbers", "1764410000.000100"))
        )
        assert delivered.status == 200
        text = await (await served.http.get(f"{served.url}/metrics")).text()
        samples = parse(text)
    key = ("chatkeeper_events_captured_total", (("kind", "message"), ("platform", "slack")))
    assert samples[key] == 1.0
    assert samples[("chatkeeper_ack_latency_seconds_count", (("platform", "slack"),))] == 1.0
    assert samples[("chatkeeper_ack_latency_seconds_sum", (("platform", "slack"),))] > 0
    for secret in ("quarterly", "U0ALICE01", PUBLIC, TEAM, SECRET):
        assert secret not in text


async def test_failing_fetch_counts_failure_by_reason_and_queue_depth(
    tmp_path: Path,
    s3_endpoint: LocalS3Endpoint,
    bucket: str,
    fake_slack: RunningFakeSlack,
    running: Callable[[Settings], AsyncIterator[Served]],
) -> None:
    """A 503 from Slack's file host counts a transient fetch failure; the file stays queued."""
    fake_slack.state.files["F0FLAKY01"] = FakeFile(
        "F0FLAKY01", "a.pdf", b"%PDF-1.7", "application/pdf"
    )
    fake_slack.state.download_failures["F0FLAKY01"] = 99
    url = fake_slack.file_url("F0FLAKY01")
    share = {
        **_message("", "1764410300.000500"),
        "subtype": "file_share",
        "files": [
            {
                "id": "F0FLAKY01",
                "name": "a.pdf",
                "mimetype": "application/pdf",
                "size": 8,
                "url_private": url,
                "url_private_download": url,
            }
        ],
    }
    env = {**base_env(tmp_path / "home", s3_endpoint, bucket), **slack_env(fake_slack)}
    failed = (
        "chatkeeper_attachment_fetch_failures_total",
        (("platform", "slack"), ("reason", "transient")),
    )
    async for served in running(load_settings(env=env)):
        sender = SlackSender(served.http, served.url, SECRET)
        assert (await sender.event(envelope(TEAM, share))).status == 200
        samples = await served.until(lambda s: s.get(failed, 0) >= 1)
    assert samples[failed] >= 1
    assert samples[("chatkeeper_attachment_queue_depth", ())] == 1.0


async def test_slack_429_counts_rate_limiting(
    tmp_path: Path,
    s3_endpoint: LocalS3Endpoint,
    bucket: str,
    fake_slack: RunningFakeSlack,
    running: Callable[[Settings], AsyncIterator[Served]],
) -> None:
    """Slack answering a Web API call with 429 moves the slack/http_429 rate-limit counter."""
    fake_slack.state.rate_limit["users.info"] = 1
    env = {**base_env(tmp_path / "home", s3_endpoint, bucket), **slack_env(fake_slack)}
    limited = ("chatkeeper_rate_limited_total", (("platform", "slack"), ("reason", "http_429")))
    async for served in running(load_settings(env=env)):
        sender = SlackSender(served.http, served.url, SECRET)
        assert (
            await sender.event(envelope(TEAM, _message("hi", "1764410400.000100")))
        ).status == 200
        samples = await served.until(lambda s: s.get(limited, 0) >= 1)
    assert fake_slack.state.rate_limit["users.info"] == 0
    assert samples[limited] == 1.0


async def test_seal_in_serve_moves_duration_bytes_and_bundles(
    tmp_path: Path,
    s3_endpoint: LocalS3Endpoint,
    bucket: str,
    fake_slack: RunningFakeSlack,
    running: Callable[[Settings], AsyncIterator[Served]],
) -> None:
    """A scheduled seal of a captured delivery counts one bundle, its bytes and its duration."""
    env = {
        **base_env(tmp_path / "home", s3_endpoint, bucket),
        **slack_env(fake_slack),
        "CHATKEEPER_SCHEDULE_SEAL_BACKLOG_THRESHOLD": "1",
        "CHATKEEPER_SCHEDULE_BACKLOG_CHECK_SECONDS": "0.2",
        "CHATKEEPER_SCHEDULE_SEAL_INTERVAL_SECONDS": "3600",
    }
    bundles = ("chatkeeper_bundles_sealed_total", ())
    async for served in running(load_settings(env=env)):
        before = await served.samples()
        sender = SlackSender(served.http, served.url, SECRET)
        event = envelope(TEAM, _message("hi", "1764410500.000100"))
        assert (await sender.event(event)).status == 200
        samples = await served.until(lambda s: s.get(bundles, 0) >= 1)
    assert before[bundles] == 0 and before[("chatkeeper_sealed_bytes_total", ())] == 0
    assert samples[bundles] == 1.0 and samples[("chatkeeper_last_sealed_bundle", ())] == 1.0
    assert samples[("chatkeeper_sealed_bytes_total", ())] > 0
    assert samples[("chatkeeper_seal_duration_seconds_count", ())] >= 1.0


async def test_journal_failure_counts_a_journal_error_and_answers_500(
    journal: SqliteJournal,
) -> None:
    """A commit that fails answers Slack with an error and moves the journal error counter."""
    metrics = Metrics()
    previous = observe.install(metrics)
    try:
        async for harness in start_harness(journal):
            with mock.patch.object(journal, "submit", side_effect=JournalError("disk full")):
                event = envelope(TEAM, _message("hi", "1764410600.000100"))
                delivered = await harness.sender.event(event)
    finally:
        observe.install(previous)
    assert delivered.status >= 500
    assert metrics.registry.get_sample_value("chatkeeper_journal_errors_total") == 1.0


async def test_telegram_polling_reports_the_bot_connected(
    tmp_path: Path,
    s3_endpoint: LocalS3Endpoint,
    bucket: str,
    running: Callable[[Settings], AsyncIterator[Served]],
) -> None:
    """While polling answers chatkeeper_bot_connected{telegram} is 1; a polled batch is timed."""
    connected = ("chatkeeper_bot_connected", (("platform", "telegram"),))
    acks = ("chatkeeper_ack_latency_seconds_count", (("platform", "telegram"),))
    async with FakeBotApi(TOKEN) as fake:
        env = {
            **base_env(tmp_path / "home", s3_endpoint, bucket),
            "CHATKEEPER_TELEGRAM_TOKEN": TOKEN,
            "CHATKEEPER_TELEGRAM_BASE_URL": fake.base_url,
            "CHATKEEPER_TELEGRAM_BASE_FILE_URL": fake.base_file_url,
            "CHATKEEPER_TELEGRAM_POLL_TIMEOUT_SECONDS": "0",
        }
        async for served in running(load_settings(env=env)):
            samples = await served.until(lambda s: s.get(connected) == 1.0)
            chat = telegram_payloads.supergroup()
            sender = telegram_payloads.user(501, "Alice")
            await fake.push("message", telegram_payloads.message(chat, sender, 1, "hi"))
            timed = await served.until(lambda s: s.get(acks, 0) >= 1.0)
    assert samples[connected] == 1.0
    assert timed[acks] >= 1.0


async def test_socket_mode_reports_the_bot_connected(
    tmp_path: Path,
    s3_endpoint: LocalS3Endpoint,
    bucket: str,
    fake_slack: RunningFakeSlack,
    running: Callable[[Settings], AsyncIterator[Served]],
) -> None:
    """After Slack's hello chatkeeper_bot_connected{slack} is 1; an acked envelope is timed."""
    env = {
        **base_env(tmp_path / "home", s3_endpoint, bucket),
        **slack_env(fake_slack),
        "CHATKEEPER_SLACK_MODE": "socket",
        "CHATKEEPER_SLACK_APP_TOKEN": fake_slack.state.app_token,
    }
    connected = ("chatkeeper_bot_connected", (("platform", "slack"),))
    acks = ("chatkeeper_ack_latency_seconds_count", (("platform", "slack"),))
    async for served in running(load_settings(env=env)):
        samples = await served.until(lambda s: s.get(connected) == 1.0)
        await fake_slack.api.push(
            "events_api", envelope(TEAM, _message("hi", "1764410700.1")), "e1"
        )
        assert await fake_slack.api.wait_for_ack("e1") is not None
        timed = await served.until(lambda s: s.get(acks) == 1.0)
    assert samples[connected] == 1.0
    assert timed[acks] == 1.0
