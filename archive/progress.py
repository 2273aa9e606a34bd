"""How long jobs (seal, imports, backfill) report progress, without knowing the terminal.

The job calls ``total`` once it knows how much there is, ``step`` when it
starts a new step worth naming ("bundle 3", "general/2026-01-31.json"), and
``advance`` as units finish. The CLI passes a progress bar on a terminal
(``chatkeeper/progress.py``); everyone else gets :data:`NO_PROGRESS`. Step
names are structural (bundle numbers, file names, conversation ids), never
message text.
"""

from __future__ import annotations

from typing import Protocol


class Progress(Protocol):
    def total(self, count: int | None, unit: str) -> None:
        """How many ``unit`` there are to do (None: not known)."""
        ...

    def step(self, what: str) -> None:
        """The step now running."""
        ...

    def advance(self, count: int = 1) -> None:
        """``count`` more units are done."""
        ...


class NoProgress:
    def total(self, count: int | None, unit: str) -> None:
        pass

    def step(self, what: str) -> None:
        pass

    def advance(self, count: int = 1) -> None:
        pass


NO_PROGRESS: Progress = NoProgress()
