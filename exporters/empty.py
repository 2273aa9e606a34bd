"""An export whose filters match nothing says so, the same way in every format.

Instead of a header-only CSV, an empty JSONL file, empty HTML transcripts or
no file at all, every format then writes one file, ``NO-RECORDS-MATCHED.txt``,
naming the request's filters and the bundles read; the custody manifest lists
it like any exported file.
"""

from __future__ import annotations

import json
from collections.abc import Iterable, Mapping
from typing import Any

from exporters.output import OutputDir
from exporters.render import RenderContext
from exporters.source import BundleInfo

NOTICE_NAME = "NO-RECORDS-MATCHED.txt"


def nothing_matched(context: RenderContext) -> bool:
    """True when no message or event of any conversation passes the filters."""
    store = context.store
    for conversation in store.conversations():
        for number in store.slices(conversation):
            if next(context.items(conversation, number), None) is not None:
                return False
    return True


def write_notice(out: OutputDir, filters: Mapping[str, Any], bundles: Iterable[BundleInfo]) -> None:
    """Write ``NO-RECORDS-MATCHED.txt`` (once; kept from an earlier run when complete)."""
    if out.done(NOTICE_NAME) or out.has(NOTICE_NAME):
        return
    numbers = [b.number for b in bundles]
    span = f"bundles {min(numbers)}-{max(numbers)}" if numbers else "no sealed bundles"
    chosen = {k: v for k, v in filters.items() if v not in (None, [], ())}
    text = (
        "no records matched\n\n"
        f"No message or event in {span} matched this export's filters, so nothing was exported.\n"
        f"Filters: {json.dumps(chosen, ensure_ascii=False, sort_keys=True)}\n"
    )
    with out.create(NOTICE_NAME) as handle:
        handle.write(text.encode("utf-8"))


def notice_instead(context: RenderContext) -> bool:
    """For a renderer's first line: write the notice and return True when nothing matched.

    In forked render workers only the share holding the first conversation writes it.
    """
    every = context.store.conversations()
    if context.only is not None and every and min(c.number for c in every) not in context.only:
        return nothing_matched(context)
    if not nothing_matched(context):
        return False
    write_notice(context.out, context.filters.describe(), context.bundles)
    return True
