"""Chain of custody: ``export-manifest.json`` and its re-check.

The manifest says what was asked (format and filters), which bundles were
read with their manifest hashes and verification outcome, every file
produced with its SHA-256 and size, the tool version, the time and the
operator. ``verify_export`` re-hashes every file and reports any that is
missing, changed or not listed. Everything but ``created_at`` is
deterministic for the same archive and request.
"""

from __future__ import annotations

import json
from collections.abc import Mapping, Sequence
from dataclasses import asdict, dataclass
from datetime import datetime
from pathlib import Path
from typing import Any

from archive.codec import format_time
from exporters.output import MANIFEST_NAME, PARTIAL_DIR, PROGRESS_NAME, FileEntry, file_sha256
from exporters.source import BundleInfo

FORMAT = "chatkeeper-export/1"


@dataclass(frozen=True, slots=True)
class Custody:
    """Who exported what, when, with which tool."""

    tool_version: str
    operator: str
    created_at: datetime


def write_manifest(
    root: Path,
    *,
    request: Mapping[str, Any],
    request_sha256: str,
    bundles: Sequence[BundleInfo],
    files: Sequence[FileEntry],
    custody: Custody,
    records_read: int,
) -> Path:
    """Write the custody manifest beside the exported files."""
    unverified = [b.number for b in bundles if not b.verified]
    manifest = {
        "format": FORMAT,
        "tool": {"name": "chatkeeper", "version": custody.tool_version},
        "created_at": format_time(custody.created_at),
        "operator": custody.operator,
        "request": dict(request),
        "request_sha256": request_sha256,
        "verification": {
            "status": "unverified" if unverified else "verified",
            "allow_unverified": bool(request.get("allow_unverified")),
            "unverified_bundles": unverified,
        },
        "bundles": [asdict(b) for b in sorted(bundles, key=lambda b: b.number)],
        "records_read": records_read,
        "files": [asdict(f) for f in sorted(files, key=lambda f: f.path)],
    }
    path = root / MANIFEST_NAME
    partial = path.with_name(path.name + ".part")
    partial.write_text(json.dumps(manifest, indent=2, ensure_ascii=False) + "\n", "utf-8")
    partial.replace(path)
    return path


@dataclass(frozen=True, slots=True)
class ExportCheck:
    """What ``verify_export`` found."""

    files_checked: int
    problems: tuple[str, ...]
    unverified_bundles: tuple[int, ...]

    @property
    def ok(self) -> bool:
        return not self.problems


def verify_export(root: Path) -> ExportCheck:
    """Re-hash every file listed in the custody manifest of ``root``."""
    manifest_path = root / MANIFEST_NAME
    try:
        manifest = json.loads(manifest_path.read_text("utf-8"))
    except FileNotFoundError:
        return ExportCheck(0, (f"{MANIFEST_NAME} is missing",), ())
    except (OSError, ValueError) as exc:
        return ExportCheck(0, (f"{MANIFEST_NAME} is unreadable: {exc}",), ())
    if not isinstance(manifest, dict) or manifest.get("format") != FORMAT:
        return ExportCheck(0, (f"{MANIFEST_NAME} is not a {FORMAT} manifest",), ())
    problems: list[str] = []
    listed: set[str] = set()
    for entry in manifest.get("files", []):
        relative = str(entry["path"])
        listed.add(relative)
        path = root / relative
        if not path.is_file():
            problems.append(f"missing: {relative}")
        elif file_sha256(path) != (entry["sha256"], entry["size"]):
            problems.append(f"changed: {relative}")
    for path in sorted(root.rglob("*")):
        relative = path.relative_to(root).as_posix()
        if relative.startswith(PARTIAL_DIR + "/"):
            continue
        if path.is_file() and relative not in listed | {MANIFEST_NAME, PROGRESS_NAME}:
            problems.append(f"not listed: {relative}")
    verification = manifest.get("verification", {})
    unverified = tuple(int(n) for n in verification.get("unverified_bundles", []))
    return ExportCheck(len(listed), tuple(problems), unverified)
