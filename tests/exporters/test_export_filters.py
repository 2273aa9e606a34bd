"""Export filters: platform, conversation, time range, participant, and their parsing."""

from __future__ import annotations

import csv
import io
from datetime import UTC, datetime
from pathlib import Path

import pytest

from exporters.filters import Filters, parse_bundle_range, parse_moment, parse_slice
from tests.exporters.export_fixtures import DM, TG_GROUP, run


def _rows(tmp_path: Path, **filters: object) -> list[dict[str, str]]:
    run("csv", tmp_path, filters=Filters(**filters))  # type: ignore[arg-type]
    text = (tmp_path / "messages.csv").read_text("utf-8-sig")
    return list(csv.DictReader(io.StringIO(text, newline="")))


def test_platform_filter_keeps_one_platform(tmp_path: Path) -> None:
    """--platform telegram exports only the Telegram group."""
    rows = _rows(tmp_path, platform="telegram")
    assert {r["conversation"] for r in rows} == {TG_GROUP}
    assert len(rows) == 4


def test_conversation_filter_keeps_listed_conversations(tmp_path: Path) -> None:
    """--conversation D0DM00001 exports only that DM."""
    rows = _rows(tmp_path, conversations=(DM,))
    assert [r["text"] for r in rows] == ["can you check the chart? 📈", "looks right ✅"]


def test_to_keeps_later_history_of_in_range_messages(tmp_path: Path) -> None:
    """--to 2026-11-02: the next day's message is out, its edit of an earlier one stays in."""
    rows = _rows(tmp_path, end=parse_moment("2026-11-02", end_of_day=True))
    texts = [r["text"] for r in rows]
    assert "Following up on yesterday's price" not in texts
    morning = next(r for r in rows if r["text"].startswith("Morning"))
    assert morning["text"] == "Morning all 👋 — term sheet v3 attached"
    assert morning["edit_count"] == "1"


def test_from_drops_earlier_records(tmp_path: Path) -> None:
    """--from 2026-11-03 keeps the next day: its message, and the edit shown as an orphan."""
    rows = _rows(tmp_path, start=parse_moment("2026-11-03"))
    assert sorted(r["text"] for r in rows) == [
        "Following up on yesterday's price",
        "Morning all 👋 — term sheet v3 attached",
    ]


def test_participant_filter_matches_id_email_or_name(tmp_path: Path) -> None:
    """--participant by e-mail, id or name keeps that person's messages and events."""
    by_email = _rows(tmp_path / "email", participant="BOB@example.com")
    by_id = _rows(tmp_path / "id", participant="U0BOB0001")
    by_name = _rows(tmp_path / "name", participant="bob åkesson")
    assert by_email == by_id == by_name
    assert {r["sender_id"] for r in by_email} == {"U0BOB0001"}
    assert [r["type"] for r in by_email] == ["member_joined", "message", "message", "message"]


def test_jsonl_applies_every_filter_per_record(tmp_path: Path) -> None:
    """jsonl filters single records: participant and time range included."""
    run("jsonl", tmp_path, filters=Filters(participant="U0CAROL01"))
    lines = (tmp_path / "records.jsonl").read_text("utf-8").splitlines()
    assert len(lines) == 6
    assert all('"id":"U0CAROL01"' in line for line in lines)


def test_parse_moment_reads_dates_and_timestamps_as_utc() -> None:
    """Dates, naive and offset timestamps all become UTC; --to dates mean the day's end."""
    assert parse_moment("2026-11-02") == datetime(2026, 11, 2, tzinfo=UTC)
    assert parse_moment("2026-11-02", end_of_day=True) == datetime(2026, 11, 3, tzinfo=UTC)
    assert parse_moment("2026-11-02T10:30:00") == datetime(2026, 11, 2, 10, 30, tzinfo=UTC)
    assert parse_moment("2026-11-02T10:30:00+02:00") == datetime(2026, 11, 2, 8, 30, tzinfo=UTC)
    assert parse_moment("2026-11-02T10:30:00Z", end_of_day=True) == datetime(
        2026, 11, 2, 10, 30, tzinfo=UTC
    )
    with pytest.raises(ValueError, match="not a date"):
        parse_moment("yesterday")


def test_parse_bundle_range_and_slice() -> None:
    """Bundle ranges and slice lengths parse, and nonsense is refused."""
    assert parse_bundle_range("7") == (7, 7)
    assert parse_bundle_range("3-9") == (3, 9)
    assert parse_bundle_range("5-") == (5, None)
    assert parse_bundle_range("-4") == (None, 4)
    for bad in ("0", "9-3", "x"):
        with pytest.raises(ValueError):
            parse_bundle_range(bad)
    assert (parse_slice("1d"), parse_slice("6h"), parse_slice("30m")) == (86_400, 21_600, 1_800)
    for bad in ("0d", "1w", "h"):
        with pytest.raises(ValueError):
            parse_slice(bad)
