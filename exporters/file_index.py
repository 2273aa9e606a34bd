"""The files of an export, kept in SQLite so their number never weighs on memory.

An export of millions of messages to eml writes millions of files; their
paths and hashes (for resuming and for the custody manifest) live in a small
SQLite file in a private temporary directory, not in a dict.
"""

from __future__ import annotations

import sqlite3
from collections.abc import Iterable, Iterator
from dataclasses import dataclass
from pathlib import Path

_SCHEMA = """
PRAGMA journal_mode=OFF;
PRAGMA synchronous=OFF;
CREATE TABLE IF NOT EXISTS files (path TEXT PRIMARY KEY, sha256 TEXT, size INTEGER) WITHOUT ROWID;
CREATE TABLE IF NOT EXISTS previous (path TEXT PRIMARY KEY, sha256 TEXT, size INTEGER)
    WITHOUT ROWID;
"""
_BATCH = 1_000


@dataclass(frozen=True, slots=True)
class FileEntry:
    path: str
    sha256: str
    size: int


class FileIndex:
    """This run's files and an earlier run's, by path."""

    def __init__(self, path: Path) -> None:
        self.path = path
        self._db = sqlite3.connect(path, isolation_level=None)
        self._db.executescript(_SCHEMA)
        self._uncommitted = 0

    def reopen(self) -> None:
        """A connection of this process's own (in a forked worker)."""
        self._db = sqlite3.connect(self.path, isolation_level=None)
        self._uncommitted = 0

    def add(self, entry: FileEntry) -> bool:
        """Record a file of this run; False if it was already recorded.

        Adds share a transaction, committed every ``_BATCH`` files and by ``commit``
        (a transaction per file cost more than writing an eml file).
        """
        if not self._db.in_transaction:
            self._db.execute("BEGIN")
        cursor = self._db.execute(
            "INSERT OR IGNORE INTO files VALUES (?, ?, ?)", (entry.path, entry.sha256, entry.size)
        )
        self._uncommitted += 1
        if self._uncommitted >= _BATCH:
            self.commit()
        return cursor.rowcount == 1

    def commit(self) -> None:
        """Commit the adds so far (before another process opens the index)."""
        if self._db.in_transaction:
            self._db.execute("COMMIT")
        self._uncommitted = 0

    def add_all(self, entries: Iterable[FileEntry]) -> None:
        """Record many files of this run in one transaction (those already recorded stay)."""
        self.commit()
        self._db.execute("BEGIN")
        self._db.executemany(
            "INSERT OR IGNORE INTO files VALUES (?, ?, ?)",
            ((e.path, e.sha256, e.size) for e in entries),
        )
        self._db.execute("COMMIT")

    def has(self, relative: str) -> bool:
        return bool(self._db.execute("SELECT 1 FROM files WHERE path = ?", (relative,)).fetchone())

    def add_previous(self, entries: Iterable[FileEntry]) -> int:
        """Record an earlier run's files; return how many there are now."""
        self.commit()
        self._db.execute("BEGIN")
        self._db.executemany(
            "INSERT OR REPLACE INTO previous VALUES (?, ?, ?)",
            ((e.path, e.sha256, e.size) for e in entries),
        )
        self._db.execute("COMMIT")
        return int(self._db.execute("SELECT COUNT(*) FROM previous").fetchone()[0])

    def previous(self, relative: str) -> FileEntry | None:
        row = self._db.execute(
            "SELECT path, sha256, size FROM previous WHERE path = ?", (relative,)
        ).fetchone()
        return None if row is None else FileEntry(*row)

    def previous_not_produced(self) -> Iterator[str]:
        """Paths an earlier run completed that this run has not (yet) recorded."""
        rows = self._db.execute(
            "SELECT path FROM previous WHERE path NOT IN (SELECT path FROM files) ORDER BY path"
        ).fetchall()
        return (str(r[0]) for r in rows)

    def files(self) -> Iterator[FileEntry]:
        """This run's files, ordered by path."""
        cursor = self._db.execute("SELECT path, sha256, size FROM files ORDER BY path")
        return (FileEntry(*row) for row in cursor)

    def count(self) -> int:
        return int(self._db.execute("SELECT COUNT(*) FROM files").fetchone()[0])

    def close(self) -> None:
        self.commit()
        self._db.close()
