"""The last ``chatkeeper verify`` result, kept in the state directory for ``/metrics``.

``verify`` usually runs as its own process (a cron job, an officer's
command) while ``serve`` publishes the metrics, so the result has to outlive
the verify process. It lives in a small JSON file, ``verify-state.json`` in
the state directory, rather than in a sealed record: verify is a read-only
check run with the auditor's read-only identity and needs no journal, and a
verifier that wrote into the archive it verifies would no longer be a
read-only witness. The file is written atomically (temporary file, then
rename), so a scrape never reads half of it; it holds only a verdict, times
and counts (never a key, a record or a message).
"""

from __future__ import annotations

import json
import os
import tempfile
from dataclasses import dataclass
from datetime import datetime
from pathlib import Path

FILE = "verify-state.json"


@dataclass(frozen=True, slots=True)
class VerifyState:
    ok: bool
    finished_at: datetime
    last_success: datetime | None
    bundles: int
    deep: bool


def read_verify_state(home: Path) -> VerifyState | None:
    """The recorded result; None before the first run or if the file is unreadable."""
    try:
        data = json.loads((home / FILE).read_text(encoding="utf-8"))
        success = data.get("last_success")
        return VerifyState(
            ok=bool(data["ok"]),
            finished_at=datetime.fromisoformat(data["finished_at"]),
            last_success=datetime.fromisoformat(success) if success else None,
            bundles=int(data.get("bundles", 0)),
            deep=bool(data.get("deep", False)),
        )
    except (OSError, ValueError, KeyError, TypeError):
        return None


def record_verify_result(home: Path, *, ok: bool, at: datetime, bundles: int, deep: bool) -> None:
    """Record one verify run; a failed run keeps the time of the last success."""
    previous = read_verify_state(home)
    last_success = at if ok else (previous.last_success if previous else None)
    body = {
        "ok": ok,
        "finished_at": at.isoformat(),
        "last_success": last_success.isoformat() if last_success else None,
        "bundles": bundles,
        "deep": deep,
    }
    home.mkdir(parents=True, exist_ok=True)
    fd, tmp = tempfile.mkstemp(dir=home, prefix=".verify-state.")
    try:
        with os.fdopen(fd, "w", encoding="utf-8") as out:
            json.dump(body, out, sort_keys=True)
        Path(tmp).replace(home / FILE)
    except BaseException:
        Path(tmp).unlink(missing_ok=True)
        raise
