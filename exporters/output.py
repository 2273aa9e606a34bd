"""The export directory: atomic files, a progress log, and resuming.

Every file is written under ``.export-partial/`` and renamed into place when complete, then its
SHA-256 is appended to a progress log. A re-run with the same request reads
the log (or the finished custody manifest) and skips every file that is
already complete with the recorded hash; a different request into the same
directory is refused so two exports never mix.
"""

from __future__ import annotations

import hashlib
import io
import itertools
import json
import os
import shutil
from collections.abc import Iterator, Mapping
from contextlib import contextmanager
from dataclasses import dataclass
from pathlib import Path
from typing import Any, BinaryIO, cast

from archive.codec import canonical_json
from archive.errors import ConfigError

PROGRESS_NAME = ".export-progress.jsonl"
PARTIAL_DIR = ".export-partial"
MANIFEST_NAME = "export-manifest.json"
_CHUNK = 1024 * 1024


@dataclass(frozen=True, slots=True)
class FileEntry:
    path: str
    sha256: str
    size: int


def file_sha256(path: Path) -> tuple[str, int]:
    digest = hashlib.sha256()
    size = 0
    with path.open("rb") as handle:
        while chunk := handle.read(_CHUNK):
            digest.update(chunk)
            size += len(chunk)
    return digest.hexdigest(), size


def request_fingerprint(request: Mapping[str, Any]) -> str:
    return hashlib.sha256(canonical_json(dict(request))).hexdigest()


class HashingWriter(io.BufferedIOBase):
    """A write-only stream that hashes and counts what passes through it."""

    def __init__(self, target: BinaryIO) -> None:
        super().__init__()
        self.target = target
        self.digest = hashlib.sha256()
        self.size = 0

    def writable(self) -> bool:
        return True

    def write(self, data: Any) -> int:
        view = memoryview(data).cast("B")
        self.digest.update(view)
        self.target.write(view)
        self.size += len(view)
        return len(view)


class OutputDir:
    """Writes an export's files; knows which are already complete."""

    def __init__(self, root: Path, request: Mapping[str, Any]) -> None:
        self.root = root
        self.fingerprint = request_fingerprint(request)
        root.mkdir(parents=True, exist_ok=True)
        shutil.rmtree(root / PARTIAL_DIR, ignore_errors=True)
        (root / PARTIAL_DIR).mkdir()
        self._counter = itertools.count()
        self._entries: dict[str, FileEntry] = {}
        self._previous = self._load_previous()
        self._progress = (root / PROGRESS_NAME).open("a", encoding="utf-8")
        if self._progress.tell() == 0:
            self._log({"request": self.fingerprint})
        self.skipped = 0
        self._directories: set[Path] = set()

    def _load_previous(self) -> dict[str, FileEntry]:
        manifest = self.root / MANIFEST_NAME
        progress = self.root / PROGRESS_NAME
        if progress.exists():
            lines = [json.loads(line) for line in progress.read_text("utf-8").splitlines() if line]
            if lines and lines[0].get("request") != self.fingerprint:
                raise ConfigError(f"{self.root} holds an unfinished export of another request")
            return {e["path"]: FileEntry(**e) for e in lines[1:]}
        if manifest.exists():
            data = json.loads(manifest.read_text("utf-8"))
            if data.get("request_sha256") != self.fingerprint:
                raise ConfigError(f"{self.root} already holds an export of another request")
            return {e["path"]: FileEntry(**e) for e in data.get("files", [])}
        return {}

    def _log(self, value: Mapping[str, Any]) -> None:
        self._progress.write(json.dumps(value, sort_keys=True) + "\n")
        self._progress.flush()

    def done(self, relative: str) -> bool:
        """True if ``relative`` is complete from an earlier run (it is then kept)."""
        entry = self._previous.get(relative)
        path = self.root / relative
        if entry is None or not path.is_file():
            return False
        if file_sha256(path) != (entry.sha256, entry.size):
            return False
        self._record(entry)
        self.skipped += 1
        return True

    @contextmanager
    def create(self, relative: str, *, seekable: bool = False) -> Iterator[BinaryIO]:
        """Open ``relative`` for writing; it appears only once complete.

        The SHA-256 is computed while writing; a writer that seeks (a zip file)
        asks for ``seekable`` and the file is hashed once closed instead. No
        fsync: a re-run re-hashes every file before trusting it.
        """
        path = self.root / relative
        if path.parent not in self._directories:
            path.parent.mkdir(parents=True, exist_ok=True)
            self._directories.add(path.parent)
        partial = self.root / PARTIAL_DIR / f"{os.getpid()}-{next(self._counter)}"
        with partial.open("wb") as handle:
            if seekable:
                yield handle
            else:
                writer = HashingWriter(handle)
                yield cast(BinaryIO, writer)
        partial.replace(path)
        if seekable:
            sha256, size = file_sha256(path)
        else:
            sha256, size = writer.digest.hexdigest(), writer.size
        self._record(FileEntry(relative, sha256, size))

    def _record(self, entry: FileEntry) -> None:
        if entry.path not in self._entries:
            self._entries[entry.path] = entry
            self._log({"path": entry.path, "sha256": entry.sha256, "size": entry.size})

    def adopt_logged(self) -> None:
        """Take in the files that forked workers logged to the shared progress log."""
        with (self.root / PROGRESS_NAME).open(encoding="utf-8") as log:
            for line in log:
                value = json.loads(line)
                if "path" in value and value["path"] not in self._entries:
                    self._entries[value["path"]] = FileEntry(**value)

    def has(self, relative: str) -> bool:
        """Whether this run already produced or kept ``relative``."""
        return relative in self._entries

    @property
    def files(self) -> list[FileEntry]:
        return sorted(self._entries.values(), key=lambda e: e.path)

    def finish(self) -> None:
        """Keep the complete files of earlier runs that nothing asked for again (the
        attachments of a skipped transcript), then close and remove the progress log
        (the custody manifest replaces it)."""
        for relative in sorted(set(self._previous) - set(self._entries)):
            self.done(relative)
        self._progress.close()
        shutil.rmtree(self.root / PARTIAL_DIR, ignore_errors=True)
        (self.root / PROGRESS_NAME).unlink(missing_ok=True)

    def abort(self) -> None:
        """Close the progress log and keep it, so a re-run resumes."""
        self._progress.close()
