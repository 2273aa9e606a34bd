"""Chain of custody: ``export-manifest.json`` and its re-check.

The manifest says what was asked (format and filters), which bundles were
read with their manifest hashes and verification outcome, every file
produced with its SHA-256 and size, the tool version, the time and the
operator, and what the stream-level checks found. It is signed beside it
(``custody_signature``). ``verify_export`` checks that signature under pinned
keys, re-hashes every file and reports any that is missing, changed or not
listed. Everything but ``created_at`` (and so the signature) is deterministic
for the same archive and request.
"""

from __future__ import annotations

import tempfile
from collections.abc import Iterable, Mapping, Sequence
from dataclasses import asdict, dataclass
from datetime import datetime
from pathlib import Path
from typing import Any

from archive.codec import format_time
from archive.hashing import file_sha256
from archive.keys import PublicKey
from exporters.custody_signature import PUBLIC_KEY_NAME, SIGNATURE_NAME, check_custody_signature
from exporters.file_index import FileEntry, FileIndex
from exporters.manifest_io import iter_manifest_files, read_manifest_header, write_manifest_file
from exporters.output import MANIFEST_NAME, PARTIAL_DIR, PROGRESS_NAME
from exporters.source import BundleInfo

FORMAT = "chatkeeper-export/1"
_OWN_FILES = frozenset({MANIFEST_NAME, PROGRESS_NAME, SIGNATURE_NAME, PUBLIC_KEY_NAME})


@dataclass(frozen=True, slots=True)
class Custody:
    """Who exported what, when, with which tool."""

    tool_version: str
    operator: str
    created_at: datetime


def _bundle_entry(bundle: BundleInfo) -> dict[str, Any]:
    """A bundle as the custody manifest lists it; ``frames`` only for one read in part."""
    entry = asdict(bundle)
    if entry["frames"] is None:
        del entry["frames"]
    else:
        entry["frames"] = list(entry["frames"])
    return entry


def write_manifest(
    root: Path,
    *,
    request: Mapping[str, Any],
    request_sha256: str,
    bundles: Sequence[BundleInfo],
    files: Iterable[FileEntry],
    custody: Custody,
    records_read: int,
    stream_problems: Sequence[str] = (),
    extra: Mapping[str, Any] | None = None,
) -> Path:
    """Write the custody manifest beside the exported files (files streamed, in path order)."""
    unverified = [b.number for b in bundles if not b.verified]
    failed = bool(unverified or stream_problems)
    header = {
        "format": FORMAT,
        "tool": {"name": "chatkeeper", "version": custody.tool_version},
        "created_at": format_time(custody.created_at),
        "operator": custody.operator,
        "request": dict(request),
        "request_sha256": request_sha256,
        "verification": {
            "status": "unverified" if failed else "verified",
            "allow_unverified": bool(request.get("allow_unverified")),
            "unverified_bundles": unverified,
            "stream_findings": list(stream_problems),
        },
        "bundles": [_bundle_entry(b) for b in sorted(bundles, key=lambda b: b.number)],
        "records_read": records_read,
        **(extra or {}),  # e.g. "proofs": {"format", "files": {record key: path}}
    }
    path = root / MANIFEST_NAME
    write_manifest_file(path, header, files)
    return path


@dataclass(frozen=True, slots=True)
class ExportCheck:
    """What ``verify_export`` found; ``signed_by`` is the pinned key id that signed."""

    files_checked: int
    problems: tuple[str, ...]
    unverified_bundles: tuple[int, ...]
    stream_findings: tuple[str, ...] = ()
    signed_by: str | None = None

    @property
    def ok(self) -> bool:
        return not self.problems


def verify_export(root: Path, pinned: Mapping[str, PublicKey]) -> ExportCheck:
    """Check the custody manifest's signature under ``pinned`` keys and re-hash every file."""
    manifest_path = root / MANIFEST_NAME
    if not manifest_path.is_file():
        return ExportCheck(0, (f"{MANIFEST_NAME} is missing",), ())
    try:
        header = read_manifest_header(manifest_path)
    except (OSError, ValueError) as exc:
        return ExportCheck(0, (f"{MANIFEST_NAME} is unreadable: {exc}",), ())
    if header.get("format") != FORMAT:
        return ExportCheck(0, (f"{MANIFEST_NAME} is not a {FORMAT} manifest",), ())
    signature = check_custody_signature(root, pinned)
    problems = list(signature.problems)
    with tempfile.TemporaryDirectory(prefix="chatkeeper-verify-export-") as scratch:
        listed = FileIndex(Path(scratch) / "listed.sqlite3")
        checked = 0
        try:
            for entry in iter_manifest_files(manifest_path):
                listed.add(entry)
                checked += 1
                path = root / entry.path
                if not path.is_file():
                    problems.append(f"missing: {entry.path}")
                elif file_sha256(path) != (entry.sha256, entry.size):
                    problems.append(f"changed: {entry.path}")
            for path in sorted(root.rglob("*")):
                relative = path.relative_to(root).as_posix()
                if relative.startswith(PARTIAL_DIR + "/") or relative in _OWN_FILES:
                    continue
                if path.is_file() and not listed.has(relative):
                    problems.append(f"not listed: {relative}")
        except (OSError, ValueError, KeyError) as exc:
            problems.append(f"{MANIFEST_NAME} is unreadable: {exc}")
        finally:
            listed.close()
    verification = header.get("verification", {})
    unverified = tuple(int(n) for n in verification.get("unverified_bundles", []))
    findings = tuple(str(f) for f in verification.get("stream_findings", []))
    return ExportCheck(checked, tuple(problems), unverified, findings, signature.key_id)
