"""The Telegram CLI commands, in-process with CliRunner, on a real SeaweedFS bucket."""

from __future__ import annotations

import json
from pathlib import Path

from click.testing import CliRunner

from archive.store.local_s3 import LocalS3Endpoint
from bots.telegram.sandbox import payloads as p
from chatkeeper.cli import cli


def _env(home: Path, endpoint: LocalS3Endpoint, bucket: str) -> dict[str, str]:
    return {
        "CHATKEEPER_HOME": str(home),
        "CHATKEEPER_S3_ENDPOINT": endpoint.url,
        "CHATKEEPER_S3_BUCKET": bucket,
        "CHATKEEPER_S3_ACCESS_KEY": endpoint.archiver.access_key,
        "CHATKEEPER_S3_SECRET_KEY": endpoint.archiver.secret_key,
        "CHATKEEPER_ARCHIVE_RETENTION_DAYS": "1",
        "CHATKEEPER_ARCHIVE_MIN_RETENTION_DAYS": "1",
    }


def test_import_then_completeness(
    tmp_path: Path, s3_endpoint: LocalS3Endpoint, bucket: str
) -> None:
    """`import telegram-export` stores the chat; `completeness telegram` reports the id gap."""
    folder = tmp_path / "export"
    folder.mkdir()
    messages = [
        {
            "id": n,
            "type": "message",
            "date_unixtime": str(p.BASE_DATE + n),
            "from_id": "user1",
            "text": f"m{n}",
        }
        for n in (1, 2, 6)
    ]
    root = {"name": "Desk", "type": "public_supergroup", "id": 42, "messages": messages}
    (folder / "result.json").write_text(json.dumps(root))
    env = _env(tmp_path / "home", s3_endpoint, bucket)
    runner = CliRunner()
    result = runner.invoke(cli, ["import", "telegram-export", str(folder)], env=env)
    assert result.exit_code == 0, result.output
    assert "new: 3" in result.output
    again = runner.invoke(cli, ["import", "telegram-export", str(folder)], env=env)
    assert "new: 0" in again.output and "already archived: 3" in again.output
    report = runner.invoke(cli, ["completeness", "telegram", "--json"], env=env)
    assert report.exit_code == 0, report.output
    (chat,) = json.loads(report.output)
    assert chat["conversation"] == "-1000000000042"
    assert (chat["missing"], chat["ranges"]) == (3, [[3, 5]])


def test_import_of_a_non_export_is_a_usage_error(
    tmp_path: Path, s3_endpoint: LocalS3Endpoint, bucket: str
) -> None:
    """A folder without result.json exits with code 2 and a one-line message."""
    runner = CliRunner()
    env = _env(tmp_path / "home", s3_endpoint, bucket)
    result = runner.invoke(cli, ["import", "telegram-export", str(tmp_path)], env=env)
    assert result.exit_code == 2
    assert "result.json" in result.output
