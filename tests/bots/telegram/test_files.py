"""Media through getFile and the file endpoint of the fake, into locked blobs on SeaweedFS."""

from __future__ import annotations

import hashlib
import logging
import secrets
from pathlib import Path

import pytest

from archive.attachments import AttachmentFetcher, FetchPolicy
from archive.clock import FixedClock
from archive.codec import encode_body
from archive.journal.sqlite import SqliteJournal
from archive.model import Attachment, AttachmentState, Kind
from archive.seal import SealPolicy
from archive.store.local_s3 import LocalS3
from archive.store.s3 import S3ArchiveStore, make_client
from bots.telegram.application import TelegramRuntime
from bots.telegram.files import TelegramDownloader
from bots.telegram.polling import PollingLoop
from bots.telegram.sandbox import payloads as p
from bots.telegram.sandbox.fake_api import FakeBotApi
from tests.bots.telegram.conftest import TOKEN, RuntimeFactory

GROUP = p.supergroup()
ALICE = p.user(501, "Alice", "alice")
BIG = 25 * 1024 * 1024


async def _capture_and_fetch(
    fake: FakeBotApi,
    journal: SqliteJournal,
    runtime: TelegramRuntime,
    store: S3ArchiveStore,
    policy: SealPolicy,
    clock: FixedClock,
    body: dict[str, object],
) -> Attachment:
    await fake.push("message", body)
    await PollingLoop(runtime).poll_once()
    downloader = TelegramDownloader(runtime.application.bot, local_mode=runtime.settings.local_mode)
    fetcher = AttachmentFetcher(
        journal,
        store,
        {"telegram": downloader},
        FetchPolicy(layout=policy.layout, max_bytes=64 * 1024 * 1024, retention_days=1),
        clock,
    )
    assert await fetcher.run_once() == 1
    settled = [r for r in journal.iter_records() if r.kind is Kind.ATTACHMENT_STORED]
    assert len(settled) == 1
    secret = TOKEN.partition(":")[2]
    assert all(secret.encode() not in encode_body(r) for r in journal.iter_records())
    return settled[0].attachments[0]


async def test_photo_is_stored_as_locked_blob(
    fake: FakeBotApi,
    journal: SqliteJournal,
    make_runtime: RuntimeFactory,
    store: S3ArchiveStore,
    policy: SealPolicy,
    clock: FixedClock,
) -> None:
    """The largest photo size is downloaded, hashed and stored; the thumbnail is not."""
    data = b"\xff\xd8\xff\xe0JFIF" + bytes(range(256)) * 300
    photo = fake.add_file(data, name="chart.jpg")
    runtime = await make_runtime()
    body = p.message(GROUP, ALICE, 80, photo=p.photo_sizes(photo), caption="today's curve")
    stored = await _capture_and_fetch(fake, journal, runtime, store, policy, clock, body)
    digest = hashlib.sha256(data).hexdigest()
    assert (stored.state, stored.sha256, stored.size) == (AttachmentState.STORED, digest, len(data))
    assert stored.ref == photo["file_unique_id"]
    assert fake.state.calls("getFile") == [{"file_id": photo["file_id"]}]
    assert fake.state.downloads == ["documents/chart.jpg"]
    key = policy.layout.blob_key(digest)
    assert [v.key for v in store.versions(key)] == [key]


async def test_25mb_file_on_cloud_api_is_too_large(
    fake: FakeBotApi,
    journal: SqliteJournal,
    make_runtime: RuntimeFactory,
    store: S3ArchiveStore,
    policy: SealPolicy,
    clock: FixedClock,
) -> None:
    """A 25 MB document on the cloud Bot API is settled too_large with a reason, not fetched."""
    document = fake.add_file(b"\0" * BIG, name="deck.pdf")
    document.pop("file_size")  # unannounced: the fake's getFile refuses it as too big
    runtime = await make_runtime()
    body = p.message(GROUP, ALICE, 81, document=dict(document, file_name="deck.pdf"))
    settled = await _capture_and_fetch(fake, journal, runtime, store, policy, clock, body)
    assert settled.state is AttachmentState.TOO_LARGE
    assert settled.reason is not None and "20971520" in settled.reason
    assert len(fake.state.calls("getFile")) == 1
    assert fake.state.downloads == []


async def test_announced_size_skips_get_file(
    fake: FakeBotApi,
    journal: SqliteJournal,
    make_runtime: RuntimeFactory,
    store: S3ArchiveStore,
    policy: SealPolicy,
    clock: FixedClock,
) -> None:
    """When the message announces more than 20 MB, getFile is not even called on the cloud API."""
    video = fake.add_file(b"\1" * BIG, name="call.mp4")
    runtime = await make_runtime()
    body = p.message(
        GROUP,
        ALICE,
        82,
        video=dict(video, mime_type="video/mp4", duration=60, width=640, height=360),
    )
    settled = await _capture_and_fetch(fake, journal, runtime, store, policy, clock, body)
    assert (settled.state, settled.size) == (AttachmentState.TOO_LARGE, BIG)
    assert fake.state.calls("getFile") == []


async def test_25mb_file_on_local_server_is_fetched(
    fake: FakeBotApi,
    journal: SqliteJournal,
    make_runtime: RuntimeFactory,
    store: S3ArchiveStore,
    policy: SealPolicy,
    clock: FixedClock,
) -> None:
    """With a local Bot API server (local mode) a 25 MB file is downloaded and stored."""
    fake.local_mode = True
    data = bytes(range(256)) * (BIG // 256)
    document = fake.add_file(data, name="deck.pdf")
    runtime = await make_runtime(local_mode=True)
    body = p.message(GROUP, ALICE, 83, document=dict(document, file_name="deck.pdf"))
    stored = await _capture_and_fetch(fake, journal, runtime, store, policy, clock, body)
    assert (stored.state, stored.size) == (AttachmentState.STORED, BIG)
    assert stored.sha256 == hashlib.sha256(data).hexdigest()
    assert fake.state.downloads == ["documents/deck.pdf"]


async def test_local_server_absolute_path_is_read_from_disk(
    tmp_path: Path,
    fake: FakeBotApi,
    journal: SqliteJournal,
    make_runtime: RuntimeFactory,
    store: S3ArchiveStore,
    policy: SealPolicy,
    clock: FixedClock,
) -> None:
    """A --local server's absolute file_path is read from the shared disk, not downloaded."""
    fake.local_mode = True
    fake.local_dir = tmp_path / "bot-api-data"
    data = b"voice note" * 1000
    voice = fake.add_file(data, name="note.ogg")
    runtime = await make_runtime(local_mode=True)
    body = p.message(GROUP, ALICE, 84, voice=dict(voice, duration=4, mime_type="audio/ogg"))
    stored = await _capture_and_fetch(fake, journal, runtime, store, policy, clock, body)
    assert (stored.state, stored.size, stored.mime) == (
        AttachmentState.STORED,
        len(data),
        "audio/ogg",
    )
    assert fake.state.downloads == []


async def test_token_never_reaches_logs(
    caplog: pytest.LogCaptureFixture,
    capsys: pytest.CaptureFixture[str],
    fake: FakeBotApi,
    journal: SqliteJournal,
    make_runtime: RuntimeFactory,
    store: S3ArchiveStore,
    policy: SealPolicy,
    clock: FixedClock,
) -> None:
    """With every logger at DEBUG, polling and a file download log no part of the token."""
    caplog.set_level(logging.DEBUG)
    document = fake.add_file(b"%PDF-1.7 terms", name="terms.pdf")
    runtime = await make_runtime()
    body = p.message(GROUP, ALICE, 85, document=dict(document, file_name="terms.pdf"))
    stored = await _capture_and_fetch(fake, journal, runtime, store, policy, clock, body)
    assert stored.state is AttachmentState.STORED
    secret = TOKEN.partition(":")[2]
    captured = capsys.readouterr()
    assert secret not in caplog.text
    assert secret not in captured.out + captured.err


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


# Every media field the bot downloads (bots.telegram.payload.media_files), with what
# Telegram sends beside the file fields, and the MIME type it announces when it does.
MEDIA_TYPES: dict[str, tuple[dict[str, object], str]] = {
    "photo": ({}, "image/jpeg"),
    "document": ({"file_name": "terms.pdf"}, "application/pdf"),
    "video": ({"duration": 3, "width": 640, "height": 360}, "video/mp4"),
    "audio": ({"duration": 30, "title": "Call"}, "audio/mpeg"),
    "voice": ({"duration": 4}, "audio/ogg"),
    "video_note": ({"duration": 5, "length": 240}, "video/mp4"),
    "animation": ({"duration": 2, "width": 320, "height": 240}, "video/mp4"),
    "sticker": (
        {"type": "regular", "width": 512, "height": 512, "is_animated": False},
        "image/webp",
    ),
}


def _media_message(media: str, file: dict[str, object], mime: str | None) -> dict[str, object]:
    fields, _ = MEDIA_TYPES[media]
    item = dict(file, **fields)
    if mime is not None:
        item["mime_type"] = mime
    if media == "photo":
        return {"photo": p.photo_sizes(item)}
    if media == "animation":  # Telegram sends the GIF as a document too
        return {"animation": item, "document": dict(item)}
    return {media: item}


@pytest.mark.parametrize("with_mime", [True, False], ids=["with-mime", "without-mime"])
@pytest.mark.parametrize("media", sorted(MEDIA_TYPES))
async def test_every_media_type_stores_the_bytes_served(
    media: str,
    with_mime: bool,
    fake: FakeBotApi,
    journal: SqliteJournal,
    make_runtime: RuntimeFactory,
    shared_store: S3ArchiveStore,
    policy: SealPolicy,
    clock: FixedClock,
) -> None:
    """Each media type, with and without mime_type, is stored as exactly the bytes the fake served."""
    data = f"{media}:{with_mime}:".encode() + bytes(range(256)) * 50
    file = fake.add_file(data, name=f"{media}.bin")
    mime = MEDIA_TYPES[media][1] if with_mime else None
    runtime = await make_runtime()
    body = p.message(GROUP, ALICE, 90, **_media_message(media, file, mime))
    stored = await _capture_and_fetch(fake, journal, runtime, shared_store, policy, clock, body)
    digest = hashlib.sha256(data).hexdigest()
    assert (stored.state, stored.sha256, stored.size) == (AttachmentState.STORED, digest, len(data))
    assert stored.mime == (mime or "application/octet-stream")
    key = policy.layout.blob_key(digest)
    (version,) = [v for v in shared_store.versions(key) if v.key == key]
    assert shared_store.get(key, version.version_id) == data
    assert fake.state.downloads == [f"documents/{media}.bin"]
