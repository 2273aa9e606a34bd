"""`chatkeeper attachments repair` end to end: fake Bot API, real SeaweedFS, the CLI in-process."""

from __future__ import annotations

import hashlib
import json
from pathlib import Path

from archive.journal.sqlite import SqliteJournal
from archive.model import AttachmentState, Kind
from archive.store.local_s3 import LocalS3Endpoint
from archive.store.s3 import S3ArchiveStore
from bots.telegram.polling import PollingLoop
from bots.telegram.sandbox import payloads as p
from bots.telegram.sandbox.fake_api import FakeBotApi
from chatkeeper import build
from chatkeeper.settings import load_settings
from tests.bots.telegram.conftest import TOKEN, RuntimeFactory
from tests.repair_support import run_cli, written_before_the_fix

GROUP = p.supergroup()
ALICE = p.user(501, "Alice", "alice")


def _env(home: Path, endpoint: LocalS3Endpoint, bucket: str, fake: FakeBotApi) -> dict[str, str]:
    return {
        "CHATKEEPER_HOME": str(home),
        "CHATKEEPER_S3_ENDPOINT": endpoint.url,
        "CHATKEEPER_S3_BUCKET": bucket,
        "CHATKEEPER_S3_ACCESS_KEY": endpoint.archiver.access_key,
        "CHATKEEPER_S3_SECRET_KEY": endpoint.archiver.secret_key,
        "CHATKEEPER_ARCHIVE_RETENTION_DAYS": "1",
        "CHATKEEPER_ARCHIVE_MIN_RETENTION_DAYS": "1",
        "CHATKEEPER_TELEGRAM_TOKEN": TOKEN,
        "CHATKEEPER_TELEGRAM_BASE_URL": fake.base_url,
        "CHATKEEPER_TELEGRAM_BASE_FILE_URL": fake.base_file_url,
    }


async def test_repair_refetches_empty_media_and_reports_the_gone(
    tmp_path: Path,
    fake: FakeBotApi,
    journal: SqliteJournal,
    make_runtime: RuntimeFactory,
    store: S3ArchiveStore,
    s3_endpoint: LocalS3Endpoint,
    bucket: str,
) -> None:
    """Empty stored media are fetched again and recorded anew; one no longer served is reported."""
    kept = b"%PDF-1.7 minutes" + bytes(range(256)) * 40
    gone = b"OggS voice note" * 300
    document = fake.add_file(kept, name="minutes.pdf")
    voice = fake.add_file(gone, name="note.ogg")
    runtime_ = await make_runtime()
    pdf = dict(document, mime_type="application/pdf", file_name="minutes.pdf")
    await fake.push("message", p.message(GROUP, ALICE, 70, document=pdf))
    await fake.push(
        "message", p.message(GROUP, ALICE, 71, voice=dict(voice, duration=4, mime_type="audio/ogg"))
    )
    await PollingLoop(runtime_).poll_once()
    env = _env(tmp_path, s3_endpoint, bucket, fake)
    bad = written_before_the_fix(journal, store, env)
    assert len(bad) == 2
    assert (await run_cli(["seal"], env)).exit_code == 0
    before = await run_cli(["verify", "--deep", "--json"], env)
    assert before.exit_code == 3
    assert [f["check"] for f in json.loads(before.output)["findings"]] == ["blob-size"] * 2

    dry = await run_cli(["attachments", "repair", "--dry-run", "--json"], env)
    assert dry.exit_code == 0, dry.output
    found = json.loads(dry.output)["found"]
    assert sorted(f["ref"] for f in found) == sorted(
        [document["file_unique_id"], voice["file_unique_id"]]
    )
    assert fake.state.downloads == []

    del fake.state.files[voice["file_id"]]  # Telegram no longer serves it
    repaired = await run_cli(["attachments", "repair"], env)
    assert repaired.exit_code == 3, repaired.output
    assert "repaired: 1  no longer fetchable: 1" in repaired.output
    assert (
        f"no longer fetchable: telegram {GROUP['id']} file {voice['file_unique_id']}"
        in repaired.output
    )
    assert TOKEN.partition(":")[2] not in repaired.output

    (repair,) = [r for r in journal.iter_records() if r.details.get("repairs")]
    assert repair.kind is Kind.ATTACHMENT_STORED
    assert repair.details["repairs"] == next(
        b.key for b in bad if b.attachments[0].ref == document["file_unique_id"]
    )
    assert repair.key not in {b.key for b in bad}
    stored = repair.attachments[0]
    digest = hashlib.sha256(kept).hexdigest()
    assert (stored.state, stored.sha256, stored.size) == (AttachmentState.STORED, digest, len(kept))
    key = build.layout(load_settings(env=env)).blob_key(digest)
    (version,) = [v for v in store.versions(key) if v.key == key]
    assert store.get(key, version.version_id) == kept

    again = await run_cli(["attachments", "repair", "--json"], env)
    assert again.exit_code == 3
    result = json.loads(again.stdout)
    assert result["repaired"] == []
    assert [u["ref"] for u in result["unrepaired"]] == [voice["file_unique_id"]]
    assert result["unrepaired"][0]["reason"] == "getFile refused: Invalid file_id"

    assert (await run_cli(["seal"], env)).exit_code == 0
    after = await run_cli(["verify", "--deep", "--json"], env)
    assert after.exit_code == 3
    (finding,) = json.loads(after.output)["findings"]
    assert voice["file_unique_id"] in finding["message"]


async def test_repair_with_nothing_short_exits_0(
    tmp_path: Path, fake: FakeBotApi, s3_endpoint: LocalS3Endpoint, bucket: str
) -> None:
    """A journal without short attachments reports none and exits 0 without fetching."""
    result = await run_cli(["attachments", "repair"], _env(tmp_path, s3_endpoint, bucket, fake))
    assert result.exit_code == 0, result.output
    assert "attachments stored short: 0" in result.output
    assert fake.state.calls("getFile") == []


async def test_repair_with_a_refused_token_is_a_config_error(
    tmp_path: Path,
    fake: FakeBotApi,
    journal: SqliteJournal,
    make_runtime: RuntimeFactory,
    s3_endpoint: LocalS3Endpoint,
    bucket: str,
) -> None:
    """A token the Bot API refuses exits 2 with one line naming the setting, never the token."""
    document = fake.add_file(b"%PDF-1.7 x" * 50, name="x.pdf")
    await fake.push(
        "message", p.message(GROUP, ALICE, 72, document=dict(document, mime_type="application/pdf"))
    )
    await PollingLoop(await make_runtime()).poll_once()
    wrong = "7001234567:AAF-not-the-right-secret"
    env = dict(_env(tmp_path, s3_endpoint, bucket, fake), CHATKEEPER_TELEGRAM_TOKEN=wrong)
    written_before_the_fix(journal, None, env)
    result = await run_cli(["attachments", "repair"], env)
    assert result.exit_code == 2, result.output
    assert result.stderr.strip() == "chatkeeper: error: telegram.token was refused by the Bot API"
    assert "Traceback" not in result.output and wrong.partition(":")[2] not in result.output
