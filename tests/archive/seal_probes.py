"""Row sources for worker-process tests: picklable, and they report from inside the worker."""

from __future__ import annotations

import sys
from collections.abc import Iterator
from dataclasses import dataclass

from archive.errors import SealError
from archive.journal import SealRow


@dataclass(frozen=True)
class ImportedModules:
    """Fails with the list of ``names`` the reading process has imported (none: ``imported: ``)."""

    names: tuple[str, ...]

    def rows(self, first: int, last: int) -> Iterator[SealRow]:
        found = [name for name in self.names if name in sys.modules]
        raise SealError("imported: " + ",".join(found))


@dataclass(frozen=True)
class FailingRows:
    """Fails with a foreign exception whose message stands for record content."""

    message: str

    def rows(self, first: int, last: int) -> Iterator[SealRow]:
        raise ValueError(self.message)


class OddError(SealError):
    """One of our errors that cannot be rebuilt from its args alone (not unpicklable as is)."""

    def __init__(self, code: int, detail: str) -> None:
        super().__init__(f"odd {code}: {detail}")


@dataclass(frozen=True)
class OddRows:
    """Fails with an ``OddError``."""

    def rows(self, first: int, last: int) -> Iterator[SealRow]:
        raise OddError(3, "bundle bounds")
