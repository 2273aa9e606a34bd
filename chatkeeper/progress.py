"""Progress bars of the CLI (tqdm on standard error), only when standard error is a terminal.

:class:`TerminalProgress` implements :class:`archive.progress.Progress`: the
bar shows the step now running as its description, so a long step says what
it is doing. Off a terminal (pipes, cron, CI) it draws nothing and the
commands print only their summaries.
"""

from __future__ import annotations

import sys
from collections.abc import Iterator
from contextlib import contextmanager
from typing import Any

from tqdm import tqdm


def on_terminal() -> bool:
    return sys.stderr.isatty()


class TerminalProgress:
    """A tqdm bar behind the Progress interface; ``enabled=False`` draws nothing."""

    def __init__(self, *, enabled: bool | None = None, unit: str = "it") -> None:
        self.bar: tqdm[Any] = tqdm(
            unit=unit,
            disable=not (on_terminal() if enabled is None else enabled),
            file=sys.stderr,
            leave=False,
        )

    def total(self, count: int | None, unit: str) -> None:
        self.bar.total = count
        self.bar.unit = unit
        self.bar.refresh()

    def step(self, what: str) -> None:
        self.bar.set_description_str(what[:60])

    def advance(self, count: int = 1) -> None:
        self.bar.update(count)

    def close(self) -> None:
        self.bar.close()


@contextmanager
def progress_bar(*, enabled: bool | None = None, unit: str = "it") -> Iterator[TerminalProgress]:
    """A bar for one command, closed afterwards (also on errors)."""
    progress = TerminalProgress(enabled=enabled, unit=unit)
    try:
        yield progress
    finally:
        progress.close()
