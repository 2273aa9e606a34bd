"""Every format against its golden files, and byte-identical repeat runs."""

from __future__ import annotations

import json
from datetime import timedelta
from pathlib import Path

import pytest

from exporters.output import MANIFEST_NAME
from tests.exporters.export_fixtures import EXPORT_TIME, run
from tests.exporters.golden import assert_golden

FORMATS = ["rsmf", "eml", "html", "slack", "jsonl", "csv"]


@pytest.mark.parametrize("fmt", FORMATS)
def test_export_matches_golden_files(tmp_path: Path, fmt: str) -> None:
    """The sample archive exports to exactly the reviewed bytes, custody manifest included."""
    result = run(fmt, tmp_path / fmt)
    assert result.records_read == 29
    assert_golden(tmp_path / fmt, f"export-{fmt}")


@pytest.mark.parametrize("fmt", FORMATS)
def test_same_archive_gives_byte_identical_output(tmp_path: Path, fmt: str) -> None:
    """Two runs into fresh directories produce the same files, apart from the export time."""
    first = run(fmt, tmp_path / "a")
    second = run(fmt, tmp_path / "b", at=EXPORT_TIME + timedelta(hours=3))
    assert [(f.path, f.sha256) for f in first.files] == [(f.path, f.sha256) for f in second.files]
    for entry in first.files:
        assert (tmp_path / "a" / entry.path).read_bytes() == (
            tmp_path / "b" / entry.path
        ).read_bytes()
    a = json.loads((tmp_path / "a" / MANIFEST_NAME).read_text("utf-8"))
    b = json.loads((tmp_path / "b" / MANIFEST_NAME).read_text("utf-8"))
    assert (a.pop("created_at"), b.pop("created_at")) == (
        "2026-11-20T12:00:00.000000Z",
        "2026-11-20T15:00:00.000000Z",
    )
    assert a == b


@pytest.mark.parametrize("fmt", ["rsmf", "eml", "html"])
def test_forked_render_workers_give_the_golden_bytes(tmp_path: Path, fmt: str) -> None:
    """Rendering conversations in three worker processes changes no byte of the output."""
    result = run(fmt, tmp_path / fmt, workers=3)
    assert result.skipped == 0
    assert not (tmp_path / fmt / ".export-partial").exists()
    assert_golden(tmp_path / fmt, f"export-{fmt}")
