"""Slack files end to end: event -> fetch queue -> SlackFileDownloader -> locked blob on SeaweedFS."""

from __future__ import annotations

import hashlib
import secrets
from datetime import timedelta
from pathlib import Path
from typing import Any

import pytest

from archive.attachments import AttachmentFetcher, FetchPolicy
from archive.clock import FixedClock
from archive.model import AttachmentState, Kind
from archive.seal import SealPolicy
from archive.store.local_s3 import LocalS3
from archive.store.s3 import S3ArchiveStore, make_client
from bots.slack.bot import web_client
from bots.slack.files import SlackFileDownloader
from bots.slack.sandbox import FakeFile, envelope
from tests.bots.slack.conftest import PUBLIC, TEAM, Harness

PDF = b"%PDF-1.7 " + bytes(range(256)) * 64


def _share(h: Harness, file: dict[str, Any], ts: str = "1764410300.000500") -> dict[str, Any]:
    return {
        "type": "message",
        "subtype": "file_share",
        "channel": PUBLIC,
        "user": "U0ALICE01",
        "text": "",
        "ts": ts,
        "files": [file],
        "channel_type": "channel",
    }


def _hosted(h: Harness, file_id: str, name: str, data: bytes) -> dict[str, Any]:
    h.state.files[file_id] = FakeFile(file_id, name, data, "application/pdf")
    url = h.fake.file_url(file_id)
    return {
        "id": file_id,
        "name": name,
        "mimetype": "application/pdf",
        "size": len(data),
        "url_private": url,
        "url_private_download": url,
    }


def _fetcher(
    h: Harness,
    store: S3ArchiveStore,
    policy: SealPolicy,
    clock: FixedClock,
    max_bytes: int = 1 << 20,
) -> AttachmentFetcher:
    settings = h.bot.settings
    clock.advance(timedelta(seconds=60))  # tasks were queued on the bot's (system) clock
    downloader = SlackFileDownloader(web_client(settings), settings.bot_token, settings.file_hosts)
    return AttachmentFetcher(
        h.journal,
        store,
        {"slack": downloader},
        FetchPolicy(
            layout=policy.layout,
            max_bytes=max_bytes,
            max_attempts=2,
            retention_days=1,
            base_delay_seconds=1,
        ),
        clock,
    )


def _settled(h: Harness) -> list[Any]:
    return [r.attachments[0] for r in h.journal.iter_records() if r.kind is Kind.ATTACHMENT_STORED]


async def test_file_is_downloaded_with_token_and_stored(
    harness: Harness, store: S3ArchiveStore, policy: SealPolicy, clock: FixedClock
) -> None:
    """A shared file is fetched with the bot token from Slack's host and stored as a locked blob."""
    await harness.sender.event(
        envelope(TEAM, _share(harness, _hosted(harness, "F0TERMS01", "term-sheet.pdf", PDF)))
    )
    (message,) = harness.journal.iter_records()
    assert message.attachments[0].state is AttachmentState.PENDING
    assert await _fetcher(harness, store, policy, clock).run_once() == 1
    (stored,) = _settled(harness)
    digest = hashlib.sha256(PDF).hexdigest()
    assert (stored.state, stored.sha256, stored.size, stored.mime) == (
        AttachmentState.STORED,
        digest,
        len(PDF),
        "application/pdf",
    )
    key = policy.layout.blob_key(digest)
    (version,) = [v for v in store.versions(key) if v.key == key]
    assert store.get(key, version.version_id) == PDF
    assert harness.state.downloads == [("/files-pri/F0TERMS01/download", True)]
    assert harness.state.calls_to("files.info") == []


async def test_too_large_file_is_not_downloaded(
    harness: Harness, store: S3ArchiveStore, policy: SealPolicy, clock: FixedClock
) -> None:
    """A file whose announced size exceeds the cap is settled too_large without a download."""
    await harness.sender.event(
        envelope(TEAM, _share(harness, _hosted(harness, "F0BIG0001", "big.pdf", PDF)))
    )
    await _fetcher(harness, store, policy, clock, max_bytes=1000).run_once()
    (settled,) = _settled(harness)
    assert settled.state is AttachmentState.TOO_LARGE and settled.size == len(PDF)
    assert harness.state.downloads == []
    assert list(store.versions("blobs/")) == []


async def test_hostile_name_never_reaches_the_filesystem(
    harness: Harness,
    store: S3ArchiveStore,
    policy: SealPolicy,
    clock: FixedClock,
    tmp_path: Path,
    monkeypatch: Any,
) -> None:
    """A file named ../../etc/passwd with control characters is stored by hash; no path uses its name."""
    monkeypatch.chdir(tmp_path)
    hostile = "../../etc/passwd\x07\n"
    await harness.sender.event(
        envelope(TEAM, _share(harness, _hosted(harness, "F0EVIL001", hostile, b"root:x:0:0")))
    )
    await _fetcher(harness, store, policy, clock).run_once()
    (settled,) = _settled(harness)
    assert settled.state is AttachmentState.STORED and settled.name == hostile
    assert list(tmp_path.rglob("*passwd*")) == []
    assert [v.key for v in store.versions("blobs/")] == [
        policy.layout.blob_key(hashlib.sha256(b"root:x:0:0").hexdigest())
    ]


async def test_slack_connect_stub_goes_through_files_info(
    harness: Harness, store: S3ArchiveStore, policy: SealPolicy, clock: FixedClock
) -> None:
    """A check_file_info stub has no URL: files.info gives it, then the file is downloaded."""
    _hosted(harness, "F0SHARED1", "shared.pdf", PDF)
    stub = {
        "id": "F0SHARED1",
        "mode": "file_access",
        "file_access": "check_file_info",
        "created": 0,
        "timestamp": 0,
        "user": "",
    }
    await harness.sender.event(envelope(TEAM, _share(harness, stub)))
    await _fetcher(harness, store, policy, clock).run_once()
    (settled,) = _settled(harness)
    assert (
        settled.state is AttachmentState.STORED
        and settled.sha256 == hashlib.sha256(PDF).hexdigest()
    )
    assert [c.params["file"] for c in harness.state.calls_to("files.info")] == ["F0SHARED1"]


async def test_file_shared_event_resolves_with_files_info(
    harness: Harness, store: S3ArchiveStore, policy: SealPolicy, clock: FixedClock
) -> None:
    """file_shared carries only the file id; the downloader asks files.info for the URL."""
    _hosted(harness, "F0ONLYID1", "x.pdf", b"bytes")
    event = {
        "type": "file_shared",
        "channel_id": PUBLIC,
        "file_id": "F0ONLYID1",
        "user_id": "U0ALICE01",
        "file": {"id": "F0ONLYID1"},
        "event_ts": "1764412200.002400",
    }
    await harness.sender.event(envelope(TEAM, event))
    await _fetcher(harness, store, policy, clock).run_once()
    assert [a.state for a in _settled(harness)] == [AttachmentState.STORED]


async def test_external_file_never_gets_the_token(
    harness: Harness, store: S3ArchiveStore, policy: SealPolicy, clock: FixedClock
) -> None:
    """A file hosted outside Slack's hosts is settled unavailable and no request is sent to it."""
    external = harness.fake.file_url("F0EXTERN1").replace("127.0.0.1", "localhost")
    harness.state.files["F0EXTERN1"] = FakeFile("F0EXTERN1", "doc", b"x", external_url=external)
    stub = {"id": "F0EXTERN1", "mode": "file_access", "file_access": "check_file_info"}
    await harness.sender.event(envelope(TEAM, _share(harness, stub)))
    await _fetcher(harness, store, policy, clock).run_once()
    (settled,) = _settled(harness)
    assert settled.state is AttachmentState.UNAVAILABLE and "outside Slack" in (
        settled.reason or ""
    )
    assert harness.state.downloads == []


async def test_deleted_file_is_unavailable_with_reason(
    harness: Harness, store: S3ArchiveStore, policy: SealPolicy, clock: FixedClock
) -> None:
    """A file deleted before the download is settled unavailable (file_not_found) at once."""
    stub = {"id": "F0GONE001", "mode": "file_access", "file_access": "check_file_info"}
    await harness.sender.event(envelope(TEAM, _share(harness, stub)))
    await _fetcher(harness, store, policy, clock).run_once()
    (settled,) = _settled(harness)
    assert settled.state is AttachmentState.UNAVAILABLE and "file_not_found" in (
        settled.reason or ""
    )


async def test_transient_failure_is_retried_then_stored(
    harness: Harness, store: S3ArchiveStore, policy: SealPolicy, clock: FixedClock
) -> None:
    """A 503 from Slack's file host is retried after the backoff and the file is then stored."""
    harness.state.download_failures["F0FLAKY01"] = 1
    await harness.sender.event(
        envelope(TEAM, _share(harness, _hosted(harness, "F0FLAKY01", "a.pdf", PDF)))
    )
    fetcher = _fetcher(harness, store, policy, clock)
    await fetcher.run_once()
    assert _settled(harness) == []
    clock.advance(timedelta(seconds=2))
    await fetcher.run_once()
    assert [a.state for a in _settled(harness)] == [AttachmentState.STORED]
    assert harness.state.downloads == [("/files-pri/F0FLAKY01/download", True)] * 2


async def test_persistent_failure_becomes_unavailable(
    harness: Harness, store: S3ArchiveStore, policy: SealPolicy, clock: FixedClock
) -> None:
    """After the retry limit the attachment is unavailable with Slack's status as the reason."""
    harness.state.download_failures["F0DOWN001"] = 99
    await harness.sender.event(
        envelope(TEAM, _share(harness, _hosted(harness, "F0DOWN001", "a.pdf", PDF)))
    )
    fetcher = _fetcher(harness, store, policy, clock)
    for _ in range(2):
        await fetcher.run_once()
        clock.advance(timedelta(minutes=5))
    (settled,) = _settled(harness)
    assert settled.state is AttachmentState.UNAVAILABLE and "HTTP 503" in (settled.reason or "")


@pytest.fixture(scope="module")
def shared_store(local_s3: LocalS3) -> S3ArchiveStore:
    """One locked bucket for every case of the parametrized test (SeaweedFS has few volumes)."""
    name = f"test-{secrets.token_hex(6)}"
    local_s3.ensure_bucket(name, mode="COMPLIANCE", days=1)
    assert local_s3.endpoint is not None
    creds = local_s3.endpoint.archiver
    return S3ArchiveStore(
        make_client(local_s3.endpoint.url, creds.access_key, creds.secret_key), name
    )


# Slack file kinds: what the file is, and how the event carries it.
SLACK_FILES = {
    "pdf": ("application/pdf", b"%PDF-1.7 "),
    "png": ("image/png", b"\x89PNG\r\n\x1a\n"),
    "mp4": ("video/mp4", b"\0\0\0\x18ftypmp42"),
    "m4a": ("audio/mp4", b"\0\0\0\x1cftypM4A "),
    "snippet": ("text/plain", b"def f():\n    return 1\n"),
    "zip": ("application/zip", b"PK\x03\x04"),
}
CARRIERS = ("message-file", "connect-stub", "file_shared")


def _slack_event(harness: Harness, carrier: str, file_id: str, file: dict[str, Any]) -> Any:
    if carrier == "message-file":
        return _share(harness, file)
    if carrier == "connect-stub":
        stub = {"id": file_id, "mode": "file_access", "file_access": "check_file_info"}
        return _share(harness, stub)
    return {
        "type": "file_shared",
        "channel_id": PUBLIC,
        "file_id": file_id,
        "user_id": "U0ALICE01",
        "file": {"id": file_id},
        "event_ts": "1764412200.002400",
    }


@pytest.mark.parametrize("with_mime", [True, False], ids=["with-mime", "without-mime"])
@pytest.mark.parametrize("carrier", CARRIERS)
@pytest.mark.parametrize("kind", sorted(SLACK_FILES))
async def test_every_file_kind_stores_the_bytes_served(
    kind: str,
    carrier: str,
    with_mime: bool,
    harness: Harness,
    shared_store: S3ArchiveStore,
    policy: SealPolicy,
    clock: FixedClock,
) -> None:
    """Each Slack file kind and carrier, with and without mimetype, stores the bytes served."""
    mime, head = SLACK_FILES[kind]
    data = head + kind.encode() * 300
    file_id = f"F0{kind.upper()[:5]:0<5}{CARRIERS.index(carrier)}{int(with_mime)}"
    served = mime if with_mime else "application/octet-stream"
    harness.state.files[file_id] = FakeFile(file_id, f"file.{kind}", data, served)
    url = harness.fake.file_url(file_id)
    file: dict[str, Any] = {
        "id": file_id,
        "name": f"file.{kind}",
        "size": len(data),
        "url_private": url,
        "url_private_download": url,
    }
    if with_mime:
        file["mimetype"] = mime
    await harness.sender.event(envelope(TEAM, _slack_event(harness, carrier, file_id, file)))
    assert await _fetcher(harness, shared_store, policy, clock).run_once() == 1
    (stored,) = _settled(harness)
    digest = hashlib.sha256(data).hexdigest()
    assert (stored.state, stored.sha256, stored.size, stored.mime) == (
        AttachmentState.STORED,
        digest,
        len(data),
        served,
    )
    key = policy.layout.blob_key(digest)
    (version,) = [v for v in shared_store.versions(key) if v.key == key]
    assert shared_store.get(key, version.version_id) == data
