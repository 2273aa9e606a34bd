"""`chatkeeper local-s3` notices its SeaweedFS child dying (real processes)."""

from __future__ import annotations

import os
import signal
import subprocess
import sys
from pathlib import Path

STARTUP_SECONDS = 120


def _children(pid: int) -> list[int]:
    found: list[int] = []
    for task in Path(f"/proc/{pid}/task").iterdir():
        text = (task / "children").read_text().split()
        found += [int(child) for child in text]
    return found


def test_local_s3_exits_with_error_when_seaweedfs_dies(tmp_path: Path) -> None:
    """Killing the weed child makes local-s3 print one error line and exit 4."""
    env = {k: v for k, v in os.environ.items() if not k.startswith("CHATKEEPER_")}
    env["CHATKEEPER_HOME"] = str(tmp_path / "home")
    process = subprocess.Popen(
        [str(Path(sys.executable).parent / "chatkeeper"), "local-s3"],
        stdout=subprocess.PIPE,
        stderr=subprocess.PIPE,
        env=env,
        text=True,
    )
    try:
        assert process.stdout is not None
        banner = process.stdout.readline()  # printed once SeaweedFS answers S3
        assert banner.startswith("SeaweedFS S3 with Object Lock"), banner
        (weed,) = _children(process.pid)
        os.kill(weed, signal.SIGKILL)
        _, err = process.communicate(timeout=STARTUP_SECONDS)
    finally:
        if process.poll() is None:
            process.kill()
            process.wait()
    assert process.returncode == 4
    lines = err.strip().splitlines()
    assert len(lines) == 1 and lines[0].startswith(
        "chatkeeper: error: SeaweedFS exited with code -9"
    )
    assert not (tmp_path / "home" / "s3" / "endpoint.json").exists()
