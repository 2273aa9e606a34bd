"""Verification of legal holds: every object an open matter covers must carry the hold.

Run by ``archive.verify.verify_stream`` with the ``archive_events`` of the
manifests it verified (``hold_changed`` records, sealed when each hold was made).
"""

from __future__ import annotations

from collections.abc import Iterable
from typing import Any

from archive.errors import StoreError
from archive.matters import matters_from_events
from archive.store import ArchiveStore


def check_holds(store: ArchiveStore, events: Iterable[dict[str, Any]]) -> tuple[int, list[str]]:
    """(objects checked, problems) for the open matters the events describe."""
    problems: list[str] = []
    checked = 0
    for matter in matters_from_events(events).values():
        if not matter.open:
            continue
        for key, version in sorted(matter.objects):
            checked += 1
            try:
                held = store.legal_hold(key, version)
            except StoreError as exc:
                problems.append(f"matter {matter.name!r}: {key} legal hold unreadable: {exc}")
                continue
            if not held:
                problems.append(
                    f"matter {matter.name!r} is open but {key} (version {version}) "
                    "does not carry the legal hold"
                )
    return checked, problems
