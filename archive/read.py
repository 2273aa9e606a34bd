"""Read sealed bundles back, verified on read (for exporters and search).

Each bundle's manifest is checked (signature, chain link to the previous
manifest), then its records object is downloaded and decompressed once: its
SHA-256, size, record count, seq order and Merkle root are checked while its
decompressed lines are kept (in memory up to 64 MB, the rest in a temporary
file). Only when the whole object has passed are its lines parsed and its
records yielded. A caller that needs only some frames of a framed object
(``archive.frames``) gets those byte ranges, each checked against the signed
frame table.
A bundle that fails raises IntegrityError unless ``allow_unverified``, in which
case it is yielded with its problems attached so that the output can say so.
"""

from __future__ import annotations

import hashlib
import tempfile
from collections.abc import Callable, Iterable, Iterator
from dataclasses import dataclass
from typing import Any, BinaryIO

from archive.bundle import Layout
from archive.codec import decode_line
from archive.errors import IntegrityError
from archive.frames import frame_lines, frame_table
from archive.keys import PublicKey
from archive.model import Record
from archive.store import ArchiveStore
from archive.verify import check_manifest, check_records, original_version, resolve_records

_SPOOL_BYTES = 64 * 1024 * 1024  # a bundle of the default size (64 MB of lines) stays in memory

Select = Callable[[dict[str, Any]], bool | tuple[int, ...]]
"""From a checked manifest: read the bundle (True), rule it out unread (False), or read
only the frames named (indices into ``records.frames``)."""


@dataclass(frozen=True)
class SealedBundle:
    number: int
    manifest: dict[str, Any]
    manifest_sha256: str
    problems: tuple[str, ...]
    frames: tuple[int, ...] | None = None  # read in part: only these frames (``archive.frames``)

    @property
    def verified(self) -> bool:
        return not self.problems


def consecutive_runs(numbers: Iterable[int]) -> list[tuple[int, int]]:
    """Bundle numbers as the ``first..last`` runs ``read_bundles`` reads: [1, 2, 3, 7] -> [(1, 3), (7, 7)]."""
    runs: list[tuple[int, int]] = []
    for n in sorted(numbers):
        if runs and runs[-1][1] == n - 1:
            runs[-1] = (runs[-1][0], n)
        else:
            runs.append((n, n))
    return runs


def bundle_numbers(
    store: ArchiveStore, layout: Layout, *, first: int = 1, last: int | None = None
) -> list[int]:
    """Numbers of the bundles ``first..last`` that have a manifest in the store, ascending."""
    numbers = set()
    for version in store.versions(layout.bundles_prefix):
        parsed = layout.parse_bundle_key(version.key)
        if parsed is not None and parsed[1] == "manifest.json" and not version.is_delete_marker:
            numbers.add(parsed[0])
    return sorted(n for n in numbers if n >= first and (last is None or n <= last))


def _manifest_bytes(store: ArchiveStore, layout: Layout, number: int) -> bytes | None:
    key = layout.manifest_key(number)
    version = original_version([v for v in store.versions(key) if v.key == key])
    return None if version is None else store.get(key, version.version_id)


def read_bundles(
    store: ArchiveStore,
    layout: Layout,
    keys: dict[str, PublicKey],
    *,
    first: int = 1,
    last: int | None = None,
    allow_unverified: bool = False,
    select: Select | None = None,
    disposed: frozenset[int] = frozenset(),
) -> Iterator[tuple[SealedBundle, Iterator[Record]]]:
    """Yield (bundle, its records in seq order) for bundles ``first..last``.

    ``read_bundle_lines`` with every sealed line parsed; the arguments are the same.
    """
    for bundle, lines in read_bundle_lines(
        store,
        layout,
        keys,
        first=first,
        last=last,
        allow_unverified=allow_unverified,
        select=select,
        disposed=disposed,
    ):
        yield bundle, map(decode_line, lines)


def read_bundle_lines(
    store: ArchiveStore,
    layout: Layout,
    keys: dict[str, PublicKey],
    *,
    first: int = 1,
    last: int | None = None,
    allow_unverified: bool = False,
    select: Select | None = None,
    disposed: frozenset[int] = frozenset(),
) -> Iterator[tuple[SealedBundle, Iterable[bytes]]]:
    """Yield (bundle, its sealed lines in seq order) for bundles ``first..last``.

    Each line is exactly as sealed (``{"record":…,"seq":n}``, no newline); the
    lines of a bundle are yielded only once its whole records object passed.

    ``select`` sees each verified manifest (time range, conversations, ...)
    before its records object is downloaded; a bundle it declines is yielded
    with no records, its records object never read (its manifest still links
    the chain, and the export still names it as searched). When it names some
    frames of a framed records object, only those byte ranges are read, each
    checked against its SHA-256 in the signed frame table (``read_frames``),
    and the bundle says which (``SealedBundle.frames``). Consume
    each records iterator before advancing to the next bundle. Bundles in
    ``disposed`` (records object removed under a disposition certificate, as
    ``verify`` established) yield their checked manifest and no records.
    """
    numbers = bundle_numbers(store, layout, first=first, last=last)
    previous_sha: str | None = None
    if numbers and numbers[0] > 1:
        before = _manifest_bytes(store, layout, numbers[0] - 1)
        previous_sha = hashlib.sha256(before).hexdigest() if before is not None else None
    expected = numbers[0] if numbers else first
    for number in numbers:
        problems: list[str] = []
        if number != expected:
            problems.append(f"bundles {expected}..{number - 1} are missing")
        expected = number + 1
        data = _manifest_bytes(store, layout, number)
        assert data is not None
        doc, found = check_manifest(data, number, layout.stream, previous_sha, keys)
        problems += found
        previous_sha = hashlib.sha256(data).hexdigest()
        if doc is None:  # no readable manifest: nothing to read, but say which bundle
            _refuse_or_warn(number, problems, allow_unverified)
            yield SealedBundle(number, {}, previous_sha, tuple(problems)), iter(())
            continue
        if number in disposed:
            _refuse_or_warn(number, problems, allow_unverified)
            yield SealedBundle(number, doc, previous_sha, tuple(problems)), iter(())
            continue
        records_key = layout.records_key(number)
        versions = [v for v in store.versions(records_key) if v.key == records_key]
        resolved, found = resolve_records(doc, versions, layout, number)
        problems += found
        if resolved is None:
            _refuse_or_warn(number, problems, allow_unverified)
            yield SealedBundle(number, doc, previous_sha, tuple(problems)), iter(())
            continue
        doc = resolved
        wanted = True if select is None or problems else select(doc)
        if wanted is False:
            yield SealedBundle(number, doc, previous_sha, ()), iter(())  # ruled out unread
            continue
        if wanted is not True:
            part, found = read_frames(store, doc, wanted)
            _refuse_or_warn(number, found, allow_unverified)
            yield SealedBundle(number, doc, previous_sha, tuple(found), wanted), iter(part)
            continue
        with LineSpool() as lines:
            result = check_records(store, doc, keep=lines.append)
            problems += result.problems
            _refuse_or_warn(number, problems, allow_unverified)
            bundle = SealedBundle(number, doc, previous_sha, tuple(problems))
            yield bundle, lines


def read_frames(
    store: ArchiveStore, doc: dict[str, Any], wanted: tuple[int, ...]
) -> tuple[list[bytes], list[str]]:
    """The lines of some frames of a records object, each frame fetched and checked alone.

    ``doc`` is a checked manifest with a frame table (``archive.frames``). The whole
    object's hash and Merkle root need every byte, so a part is vouched for by the
    signed SHA-256 of each of its frames instead; its lines are then checked as
    ``verify`` checks them (count, seq order inside the frame's range).
    """
    table = frame_table(doc)
    if table is None or not all(0 <= i < len(table) for i in wanted):
        return [], ["records frames asked for are not in the manifest"]
    spec = doc["records"]
    lines: list[bytes] = []
    problems: list[str] = []
    for index in sorted(set(wanted)):
        frame = table[index]
        data = store.get_range(spec["key"], spec["version_id"], frame["offset"], frame["size"])
        found, wrong = frame_lines(index, frame, data)
        lines += found
        problems += wrong
    return lines, problems


class LineSpool:
    """The sealed lines of one records object, kept while it is checked, read once after.

    Lines stay in memory up to ``limit`` bytes; the rest go to a temporary file.
    Iterating yields the lines in order, without their newline.
    """

    def __init__(self, limit: int = _SPOOL_BYTES) -> None:
        self.limit = limit
        self.size = 0
        self._lines: list[bytes] = []
        self._overflow: BinaryIO | None = None
        self._closed = False

    def append(self, line: bytes) -> None:
        if self._overflow is None and self.size + len(line) <= self.limit:
            self._lines.append(line)
        else:
            if self._overflow is None:
                self._overflow = tempfile.TemporaryFile()  # noqa: SIM115 (closed by close())
            self._overflow.write(line + b"\n")
        self.size += len(line)

    def __iter__(self) -> Iterator[bytes]:
        if self._closed:
            raise ValueError("a bundle's records were read after moving on to the next bundle")
        yield from self._lines
        if self._overflow is not None:
            self._overflow.seek(0)
            for line in self._overflow:
                yield line[:-1]

    def close(self) -> None:
        self._closed = True
        self._lines = []
        if self._overflow is not None:
            self._overflow.close()

    def __enter__(self) -> LineSpool:
        return self

    def __exit__(self, *exc: object) -> None:
        self.close()


def _refuse_or_warn(number: int, problems: list[str], allow_unverified: bool) -> None:
    if problems and not allow_unverified:
        raise IntegrityError(f"bundle {number} failed verification: {'; '.join(problems)}")
