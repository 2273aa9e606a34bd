"""An export whose filters match nothing says so, the same way in every format."""

from __future__ import annotations

from datetime import UTC, datetime
from pathlib import Path

import pytest

from exporters.custody_signature import PUBLIC_KEY_NAME, SIGNATURE_NAME
from exporters.empty import NOTICE_NAME
from exporters.filters import Filters
from tests.exporters.export_fixtures import run

FORMATS = ["rsmf", "eml", "html", "slack", "jsonl", "csv"]
NOTHING = [
    Filters(participant="nobody@example.com"),
    Filters(conversations=("C0NOSUCH1",)),
    Filters(start=datetime(2030, 1, 1, tzinfo=UTC)),
]


@pytest.mark.parametrize("fmt", FORMATS)
@pytest.mark.parametrize("filters", NOTHING, ids=["participant", "conversation", "time"])
def test_no_match_writes_only_the_notice(tmp_path: Path, fmt: str, filters: Filters) -> None:
    """Every format writes exactly one file saying "no records matched", listed in custody."""
    result = run(fmt, tmp_path, filters=filters, workers=3)
    assert [f.path for f in result.files] == [NOTICE_NAME]
    text = (tmp_path / NOTICE_NAME).read_text("utf-8")
    assert text.startswith("no records matched\n")
    assert "bundles 1-3" in text
    produced = sorted(p.name for p in tmp_path.rglob("*") if p.is_file())
    assert produced == sorted(
        [NOTICE_NAME, "export-manifest.json", SIGNATURE_NAME, PUBLIC_KEY_NAME]
    )


def test_partial_match_writes_no_empty_html_transcripts(tmp_path: Path) -> None:
    """Conversations with nothing that matches get no transcript; the others do."""
    result = run("html", tmp_path, filters=Filters(participant="U0BOB0001"))
    assert sorted(f.path for f in result.files) == [
        "html/slack-T0001-C0DEALS01.html",
        "html/slack-T0001-D0DM00001.html",
    ]
