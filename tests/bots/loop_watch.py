"""A Journal wrapper that notes each blocking call made on the event loop's own thread."""

from __future__ import annotations

import threading
from collections.abc import Callable
from typing import Any

from archive.journal.sqlite import SqliteJournal

BLOCKING = frozenset(
    {
        "append",
        "get",
        "contains",
        "iter_records",
        "stats",
        "monitoring",
        "is_monitored",
        "set_monitoring",
        "enqueue_fetch",
        "claim_fetches",
        "finish_fetch",
        "retry_fetch",
        "acquire_lease",
        "release_lease",
    }
)


class LoopWatchJournal:
    """Delegates to a real journal; ``on_loop`` lists blocking calls made on ``loop_thread``."""

    def __init__(self, inner: SqliteJournal, loop_thread: int) -> None:
        self.inner = inner
        self.loop_thread = loop_thread
        self.on_loop: list[str] = []

    def __getattr__(self, name: str) -> Any:
        attr = getattr(self.inner, name)
        if name not in BLOCKING:
            return attr

        def watched(*args: Any, **kwargs: Any) -> Any:
            if threading.get_ident() == self.loop_thread:
                self.on_loop.append(name)
            return attr(*args, **kwargs)

        watch: Callable[..., Any] = watched
        return watch
