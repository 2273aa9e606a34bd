"""The ``SearchIndex`` port: what every index adapter (SQLite FTS5, PostgreSQL) provides.

The index is derived data: it can always be rebuilt from the sealed, verified
bundles. It records which bundles it holds (with their manifest hashes) and
which were refused because they failed verification, so ``chatkeeper index``
reads only bundles it does not hold yet.
"""

from __future__ import annotations

from collections.abc import Iterable
from dataclasses import dataclass
from datetime import datetime
from typing import Protocol

from search.document import SearchDocument
from search.query import Node


@dataclass(frozen=True, slots=True)
class IndexedBundle:
    """A bundle the index holds."""

    number: int
    manifest_sha256: str
    records: int


@dataclass(frozen=True, slots=True)
class RefusedBundle:
    """A bundle that failed verification and was not indexed."""

    number: int
    problems: str


@dataclass(frozen=True, slots=True)
class Hit:
    """One matching record (one version of a message), newest first."""

    seq: int
    key: str
    bundle: int
    platform: str
    workspace: str
    conversation: str
    conversation_name: str | None
    kind: str
    occurred_at: datetime
    actor_id: str | None
    actor_name: str | None
    actor_email: str | None
    message_id: str | None
    thread_id: str | None
    body: str
    files: str
    edit_number: int | None  # for an edit: 1 for the first edit of its message, 2 ...

    @property
    def version(self) -> str:
        """Which version of the message this record is: original, edit N, deleted, or its kind."""
        if self.kind == "message":
            return "original"
        if self.kind == "edit":
            return f"edit {self.edit_number or 1}"
        if self.kind == "delete":
            return "deleted"
        return self.kind


class SearchIndex(Protocol):
    """A full-text index of sealed records for one stream."""

    def held(self) -> list[IndexedBundle]:
        """The bundles the index holds, by number."""
        ...

    def refused(self) -> list[RefusedBundle]:
        """Bundles that failed verification when last read (not indexed)."""
        ...

    def add_bundle(self, bundle: IndexedBundle, documents: Iterable[SearchDocument]) -> bool:
        """Index one verified bundle in one transaction; False if it was already held."""
        ...

    def refuse_bundle(self, bundle: RefusedBundle) -> None:
        """Record that a bundle failed verification (replacing an earlier finding)."""
        ...

    def reset(self) -> None:
        """Forget everything (for ``chatkeeper index --rebuild``)."""
        ...

    def search(self, query: Node, limit: int | None) -> list[Hit]:
        """Records matching ``query``, newest (highest seq) first, at most ``limit``."""
        ...

    def close(self) -> None: ...
