"""The export directory: atomic files, a progress log, and resuming.

Every file is written under ``.export-partial/`` and renamed into place when complete, then its
SHA-256 is appended to a progress log (in batches of whole lines: a file missing from the log
after a crash is only written again). A re-run with the same request reads
the log (or the finished custody manifest) and skips every file that is
already complete with the recorded hash; a different request into the same
directory is refused so two exports never mix.
"""

from __future__ import annotations

import contextlib
import hashlib
import io
import itertools
import json
import os
import shutil
import tempfile
from collections.abc import Iterator, Mapping
from contextlib import contextmanager
from pathlib import Path
from typing import Any, BinaryIO, cast

from archive.codec import canonical_json
from archive.errors import ConfigError
from archive.hashing import file_sha256
from exporters.file_index import FileEntry, FileIndex
from exporters.manifest_io import iter_manifest_files, read_manifest_header

PROGRESS_NAME = ".export-progress.jsonl"
_LOG_BATCH = 256  # progress lines per write
_BUFFER = 1 << 16
PARTIAL_DIR = ".export-partial"
MANIFEST_NAME = "export-manifest.json"


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
    """Writes an export's files; knows which are already complete.

    The bookkeeping lives in a ``FileIndex`` (SQLite) in a private temporary
    directory, so memory does not grow with the number of files. In a forked
    render worker (``in_worker``) files are only logged; the parent adopts them
    from the progress log afterwards.
    """

    def __init__(self, root: Path, request: Mapping[str, Any]) -> None:
        self.root = root
        self.fingerprint = request_fingerprint(request)
        root.mkdir(parents=True, exist_ok=True)
        shutil.rmtree(root / PARTIAL_DIR, ignore_errors=True)
        (root / PARTIAL_DIR).mkdir()
        self._partial_dir = root / PARTIAL_DIR
        self._scratch = Path(tempfile.mkdtemp(prefix="chatkeeper-export-index-"))
        self.index = FileIndex(self._scratch / "files.sqlite3")
        self._counter = itertools.count()
        self._in_worker = False
        self._resuming = False  # whether an earlier run left files to keep
        self._load_previous()
        self._root = str(root)
        self._partial = str(self._partial_dir)
        self._unlogged: list[bytes] = []
        self._progress = os.open(
            root / PROGRESS_NAME, os.O_WRONLY | os.O_APPEND | os.O_CREAT | os.O_CLOEXEC, 0o644
        )
        if os.fstat(self._progress).st_size == 0:
            self._log({"request": self.fingerprint})
            self.flush_log()
        self.skipped = 0
        self._directories: set[str] = set()

    def _load_previous(self) -> None:
        manifest = self.root / MANIFEST_NAME
        progress = self.root / PROGRESS_NAME
        if progress.exists():
            with progress.open(encoding="utf-8") as log:
                first = log.readline()
                if first and json.loads(first).get("request") != self.fingerprint:
                    raise ConfigError(f"{self.root} holds an unfinished export of another request")
                entries = (FileEntry(**json.loads(line)) for line in log if line)
                self._resuming = self.index.add_previous(entries) > 0
        elif manifest.exists():
            try:
                header = read_manifest_header(manifest)
            except ValueError as exc:
                raise ConfigError(f"{self.root} holds an unreadable {MANIFEST_NAME}") from exc
            if header.get("request_sha256") != self.fingerprint:
                raise ConfigError(f"{self.root} already holds an export of another request")
            self._resuming = self.index.add_previous(iter_manifest_files(manifest)) > 0

    def in_worker(self) -> None:
        """Called first in a forked render worker: own connection, log-only bookkeeping."""
        self.index.reopen()
        self._in_worker = True
        self._unlogged = []  # the parent's, which it logs itself (flush_log before forking)
        self.skipped = 0

    def _log(self, value: Mapping[str, Any]) -> None:
        self._unlogged.append(canonical_json(dict(value)) + b"\n")
        if len(self._unlogged) >= _LOG_BATCH:
            self.flush_log()

    def flush_log(self) -> None:
        """Append the lines not yet logged, whole, in one write (forked workers share the log:
        one write of whole lines to a file opened for appending never interleaves)."""
        if self._unlogged:
            data = b"".join(self._unlogged)
            self._unlogged.clear()
            if os.write(self._progress, data) != len(data):
                raise OSError(f"a short write to {PROGRESS_NAME}")

    def done(self, relative: str) -> bool:
        """True if ``relative`` is complete from an earlier run (it is then kept)."""
        if not self._resuming:
            return False
        entry = self.index.previous(relative)
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
        path = f"{self._root}/{relative}"  # str paths: pathlib cost more than the write
        parent = path.rpartition("/")[0]
        if parent not in self._directories:
            Path(parent).mkdir(parents=True, exist_ok=True)
            self._directories.add(parent)
        partial = f"{self._partial}/{os.getpid()}-{next(self._counter)}"
        with open(partial, "wb", buffering=_BUFFER) as handle:  # noqa: PTH123
            if seekable:
                yield handle
            else:
                writer = HashingWriter(handle)
                yield cast(BinaryIO, writer)
        os.replace(partial, path)  # noqa: PTH105
        if seekable:
            sha256, size = file_sha256(Path(path))
        else:
            sha256, size = writer.digest.hexdigest(), writer.size
        self._record(FileEntry(relative, sha256, size))

    def _record(self, entry: FileEntry) -> None:
        if self._in_worker or self.index.add(entry):
            self._log({"path": entry.path, "sha256": entry.sha256, "size": entry.size})

    def adopt_logged(self) -> None:
        """Take in the files that forked workers logged to the shared progress log."""
        self.flush_log()
        with (self.root / PROGRESS_NAME).open(encoding="utf-8") as log:
            values = (json.loads(line) for line in log)
            self.index.add_all(FileEntry(**value) for value in values if "path" in value)

    def has(self, relative: str) -> bool:
        """Whether this run already produced or kept ``relative`` (as far as this process knows)."""
        return self.index.has(relative)

    def files(self) -> Iterator[FileEntry]:
        """This run's files, ordered by path."""
        return self.index.files()

    def finish(self) -> None:
        """Keep the complete files of earlier runs that nothing asked for again (the
        attachments of a skipped transcript), then close and remove the progress log
        (the custody manifest replaces it)."""
        for relative in self.index.previous_not_produced():
            self.done(relative)
        os.close(self._progress)
        shutil.rmtree(self.root / PARTIAL_DIR, ignore_errors=True)
        (self.root / PROGRESS_NAME).unlink(missing_ok=True)

    def abort(self) -> None:
        """Close the progress log and keep it, so a re-run resumes."""
        try:
            with contextlib.suppress(OSError):  # files it would name are written again
                self.flush_log()
        finally:
            os.close(self._progress)
        self.close()

    def close(self) -> None:
        self.index.close()
        shutil.rmtree(self._scratch, ignore_errors=True)
