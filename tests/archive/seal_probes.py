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
