"""Disposition certificates as verify sees them: which object versions were disposed of.

No I/O: reads the ``archive_events`` of verified manifests (``disposition`` records).
"""

from __future__ import annotations

from typing import Any

from archive.model import Kind
from archive.trust import Finding


def disposed_objects(events: list[dict[str, Any]]) -> set[tuple[str, str]]:
    """(key, version) of every object a sealed disposition certificate names."""
    found: set[tuple[str, str]] = set()
    for event in events:
        if event.get("kind") == Kind.DISPOSITION.value:
            payload = event["payload"]
            for obj in payload.get("records_objects", []) + payload.get("blobs", []):
                found.add((str(obj["key"]), str(obj["version_id"])))
    return found


def settle_absent(
    events: list[dict[str, Any]], absent: list[tuple[int, str, str]]
) -> tuple[list[dict[str, Any]], list[Finding]]:
    """(disposed, findings) for objects verify found absent: (bundle, key, version or "").

    An absent object a sealed certificate names was disposed of; any other absence is
    tampering or loss. Blobs are matched by key (manifests do not pin blob versions).
    """
    certified = disposed_objects(events)
    certified_keys = {key for key, _ in certified}
    disposed: list[dict[str, Any]] = []
    findings: list[Finding] = []
    seen: set[str] = set()
    for number, key, version in absent:
        if (key, version) in certified or (not version and key in certified_keys):
            if key not in seen:
                disposed.append({"bundle": number, "key": key, "version_id": version or None})
                seen.add(key)
            continue
        what = "records object" if version else "blob"
        findings.append(
            Finding(
                number,
                "records" if version else "blob",
                f"{what} {key} is missing and no disposition certificate covers it "
                "(deleted outside chatkeeper dispose: tampering or loss)",
            )
        )
    return disposed, findings
