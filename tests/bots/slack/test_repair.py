"""`chatkeeper attachments repair` for Slack files: the fake Slack, real SeaweedFS, the CLI."""

from __future__ import annotations

import hashlib
import json
from pathlib import Path
from typing import Any

from archive.journal.sqlite import SqliteJournal
from archive.model import Kind
from archive.store.local_s3 import LocalS3Endpoint
from bots.slack.sandbox import FakeFile, envelope
from tests.bots.slack.conftest import PUBLIC, SECRET, TEAM, Harness
from tests.repair_support import run_cli, written_before_the_fix

DECK = b"PK\x03\x04 slides" + bytes(range(256)) * 30


def _env(home: Path, endpoint: LocalS3Endpoint, bucket: str, h: Harness) -> dict[str, str]:
    return {
        "CHATKEEPER_HOME": str(home),
        "CHATKEEPER_S3_ENDPOINT": endpoint.url,
        "CHATKEEPER_S3_BUCKET": bucket,
        "CHATKEEPER_S3_ACCESS_KEY": endpoint.archiver.access_key,
        "CHATKEEPER_S3_SECRET_KEY": endpoint.archiver.secret_key,
        "CHATKEEPER_ARCHIVE_RETENTION_DAYS": "1",
        "CHATKEEPER_ARCHIVE_MIN_RETENTION_DAYS": "1",
        "CHATKEEPER_SLACK_ENABLED": "true",
        "CHATKEEPER_SLACK_SIGNING_SECRET": SECRET,
        "CHATKEEPER_SLACK_BOT_TOKEN": h.state.token,
        "CHATKEEPER_SLACK_API_BASE_URL": h.fake.api_base_url,
        "CHATKEEPER_SLACK_FILE_HOSTS": h.fake.file_host,
    }


def _share(h: Harness, file_id: str, data: bytes, ts: str) -> dict[str, Any]:
    h.state.files[file_id] = FakeFile(file_id, f"{file_id}.zip", data, "application/zip")
    url = h.fake.file_url(file_id)
    file = {
        "id": file_id,
        "name": f"{file_id}.zip",
        "mimetype": "application/zip",
        "size": len(data),
        "url_private": url,
        "url_private_download": url,
    }
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


async def test_slack_repair_fetches_url_private_download_again(
    tmp_path: Path,
    harness: Harness,
    journal: SqliteJournal,
    s3_endpoint: LocalS3Endpoint,
    bucket: str,
) -> None:
    """A Slack file stored empty is fetched again with the bot token; a deleted one is reported."""
    await harness.sender.event(envelope(TEAM, _share(harness, "F0DECK001", DECK, "1764410300.1")))
    await harness.sender.event(
        envelope(TEAM, _share(harness, "F0GONE001", b"x" * 99, "1764410301.1"))
    )
    env = _env(tmp_path, s3_endpoint, bucket, harness)
    bad = written_before_the_fix(journal, None, env)
    del harness.state.files["F0GONE001"]  # deleted in Slack since
    result = await run_cli(["attachments", "repair", "--json"], env)
    assert result.exit_code == 3, result.output
    report = json.loads(result.stdout)
    (repaired,) = report["repaired"]
    assert (repaired["ref"], repaired["declared_size"], repaired["stored_size"]) == (
        "F0DECK001",
        len(DECK),
        0,
    )
    assert repaired["sha256"] == hashlib.sha256(DECK).hexdigest()
    (unrepaired,) = report["unrepaired"]
    assert unrepaired["ref"] == "F0GONE001" and "file is gone" in unrepaired["reason"]
    (repair,) = [r for r in journal.iter_records() if r.details.get("repairs")]
    assert repair.kind is Kind.ATTACHMENT_STORED and repair.key == repaired["repair_record_key"]
    assert repair.details["repairs"] in {b.key for b in bad}
    assert ("/files-pri/F0DECK001/download", True) in harness.state.downloads
    assert harness.state.token not in result.output
