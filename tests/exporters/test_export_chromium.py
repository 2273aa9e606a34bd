"""The HTML transcript rendered by headless Chromium: a real picture and the text in the DOM."""

from __future__ import annotations

import shutil
import struct
import subprocess
import zlib
from pathlib import Path

import pytest

from tests.exporters.export_fixtures import COMBINING, LONG_TEXT, run

FLAGS = [
    "--headless",
    "--no-sandbox",
    "--disable-gpu",
    "--disable-background-networking",
    "--disable-component-update",
    "--disable-sync",
    "--no-first-run",
]


def _chromium() -> str:
    found = shutil.which("chromium") or shutil.which("chromium-browser")
    if found is None:
        pytest.fail("chromium is not installed (apt-get install -y chromium)")
    return found


def _run(profile: Path, *args: str) -> subprocess.CompletedProcess[bytes]:
    return subprocess.run(
        [_chromium(), *FLAGS, f"--user-data-dir={profile}", *args],
        capture_output=True,
        timeout=120,
        check=True,
    )


def _png_pixels(data: bytes) -> tuple[int, int, bytes]:
    """Width, height and the decompressed scanlines of a PNG."""
    assert data[:8] == b"\x89PNG\r\n\x1a\n"
    width, height = struct.unpack(">II", data[16:24])
    position, idat = 8, b""
    while position < len(data):
        (length,) = struct.unpack(">I", data[position : position + 4])
        kind = data[position + 4 : position + 8]
        if kind == b"IDAT":
            idat += data[position + 8 : position + 8 + length]
        position += 12 + length
    return width, height, zlib.decompress(idat)


def test_transcript_renders_in_headless_chromium(tmp_path: Path) -> None:
    """A screenshot with ink on it, and every kind of text present in the rendered DOM."""
    run("html", tmp_path / "out")
    page = tmp_path / "out" / "html" / "slack-T0001-C0DEALS01.html"
    shot = tmp_path / "shot.png"
    _run(
        tmp_path / "profile-shot", f"--screenshot={shot}", "--window-size=1000,1400", page.as_uri()
    )
    width, height, pixels = _png_pixels(shot.read_bytes())
    assert (width, height) == (1000, 1400)
    assert len(set(pixels)) > 16  # not a blank page: text, borders and colours
    dom = _run(tmp_path / "profile-dom", "--dump-dom", page.as_uri()).stdout.decode("utf-8")
    for text in (
        "Verified: bundles 1-3",
        "Morning all 👋 — term sheet v3 attached",
        "مرحبا، السعر جيد",
        COMBINING,
        LONG_TEXT,
        "deleted by Bob Åkesson",
        "Price is 101.5, firm until noon",
        "thumbsup 2 (Alice Moreau, كارول)",
        "Bob Åkesson</span> &lt;bob@example.com&gt;",
    ):
        assert text in dom, text
    assert "<script" not in dom


def test_telegram_transcript_renders_right_to_left_text(tmp_path: Path) -> None:
    """The Telegram group with Hebrew and Cyrillic renders, replies linked to their parent."""
    run("html", tmp_path / "out")
    page = tmp_path / "out" / "html" / "telegram-7000000001--1001234567890.html"
    dom = _run(tmp_path / "profile", "--dump-dom", page.as_uri()).stdout.decode("utf-8")
    assert "שלום, קיבלתי" in dom
    assert "Привет! Sending the order at 10:00" in dom
    assert 'reply in thread <a href="#m-1051">Ivan Petrov, 2026-11-02 09:51</a>' in dom
    assert "original message not in this export" in dom
