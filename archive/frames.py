"""The frames of a records object, and the manifest's ``records.frames`` that lists them.

A records object is a zstd stream; one with more than ``FRAME_BYTES`` of lines
is sealed as several zstd frames, one after another, each holding whole lines
(a streaming zstd reader reads them as one stream). Its manifest then lists every
frame: byte offset and size in the stored object, SHA-256 of those bytes, the
number of lines and their seq range, and the frame's own ``refers_back``.

The signed table lets a reader that needs a few frames fetch only those byte
ranges and check each against its SHA-256: a filtered export reads, of a
bundle sealed after its range, only the frames whose ``refers_back`` reaches
the range (the late edits and reactions of its messages). The Merkle root and
the whole object's SHA-256 still cover everything; ``verify`` checks both, and
every frame against the table. A bundle of one frame has no table.
"""

from __future__ import annotations

import hashlib
import io
from collections.abc import Iterator, Sequence
from concurrent.futures import Future, ThreadPoolExecutor
from dataclasses import dataclass
from typing import Any, BinaryIO

import zstandard

from archive.codec import line_seq
from archive.references import Spans
from archive.references import field_problems as refers_back_problems

FRAME_BYTES = 4 * 1024 * 1024
"""Lines per frame, in bytes (a frame ends at the first batch of rows past it). Small enough
that a late reaction costs a reader a few MB, large enough that zstd loses nothing by it."""

FRAME_JOIN = 600.0
"""A frame's ``refers_back`` splits its spans only at gaps longer than this many seconds, so
the many references to the last minutes stay one span and the table stays small (about 4 KB a
frame for 40 busy channels, against 21 KB with the bundle's splitting). The cost: a range that
ends within ten minutes of a referenced message may read a frame it did not need."""

_IN_FLIGHT = 2  # frames handed to the compressing thread and not yet collected


@dataclass(frozen=True)
class Frame:
    """One zstd frame of a records object, as the manifest lists it."""

    offset: int
    size: int
    sha256: str
    record_count: int
    seq_first: int
    seq_last: int
    refers_back: dict[str, Spans]

    def to_json(self) -> dict[str, Any]:
        return {
            "offset": self.offset,
            "size": self.size,
            "sha256": self.sha256,
            "record_count": self.record_count,
            "seq_first": self.seq_first,
            "seq_last": self.seq_last,
            "refers_back": dict(self.refers_back),
        }


@dataclass(frozen=True)
class _Pending:
    compressed: Future[bytes]
    record_count: int
    seqs: tuple[int, int]
    refers_back: dict[str, Spans]


class FrameWriter:
    """Compresses a records object a frame at a time on a thread of its own.

    zstd releases the GIL, so a frame compresses (multi-threaded, on the other
    cores) while the caller hashes the rows of the next. Each frame is what one
    ``stream_writer`` makes of its lines, so an object of one frame has the
    same bytes as before frames existed.
    """

    def __init__(self, level: int) -> None:
        # Resumed sealing adopts by content, so the exact bytes of a rebuilt object never matter.
        self._compressor = zstandard.ZstdCompressor(level=level, write_checksum=True, threads=-1)
        self._pool = ThreadPoolExecutor(max_workers=1, thread_name_prefix="seal-zstd")
        self._pending: list[_Pending] = []
        self._done: list[tuple[bytes, _Pending]] = []
        self.added = 0

    def add(
        self,
        chunks: Sequence[bytes],
        record_count: int,
        seqs: tuple[int, int],
        refers_back: dict[str, Spans],
    ) -> None:
        """One frame: ``chunks`` of whole lines, holding ``record_count`` lines of ``seqs``."""
        if len(self._pending) >= _IN_FLIGHT:
            self._collect()
        future = self._pool.submit(self._compress, chunks)
        self._pending.append(_Pending(future, record_count, seqs, refers_back))
        self.added += 1

    def _compress(self, chunks: Sequence[bytes]) -> bytes:
        sink = io.BytesIO()
        with self._compressor.stream_writer(sink, closefd=False) as writer:
            for chunk in chunks:
                writer.write(chunk)
        return sink.getvalue()

    def _collect(self) -> None:
        pending = self._pending.pop(0)
        self._done.append((pending.compressed.result(), pending))

    def finish(self) -> tuple[bytes, tuple[Frame, ...]]:
        """The records object's bytes and its frames, in order."""
        while self._pending:
            self._collect()
        frames, offset = [], 0
        for data, pending in self._done:
            frames.append(
                Frame(
                    offset=offset,
                    size=len(data),
                    sha256=hashlib.sha256(data).hexdigest(),
                    record_count=pending.record_count,
                    seq_first=pending.seqs[0],
                    seq_last=pending.seqs[1],
                    refers_back=pending.refers_back,
                )
            )
            offset += len(data)
        return b"".join(data for data, _ in self._done), tuple(frames)

    def __enter__(self) -> FrameWriter:
        return self

    def __exit__(self, *exc: object) -> None:
        self._pool.shutdown(wait=True, cancel_futures=True)


_FIELDS = {
    "offset": int,
    "size": int,
    "sha256": str,
    "record_count": int,
    "seq_first": int,
    "seq_last": int,
    "refers_back": dict,
}


def frame_table(doc: dict[str, Any]) -> list[dict[str, Any]] | None:
    """The manifest's frame table (checked by ``field_problems``), or None when it has none."""
    records = doc.get("records")
    frames = records.get("frames") if isinstance(records, dict) else None
    return frames if isinstance(frames, list) else None


def field_problems(doc: dict[str, Any]) -> list[str]:
    """What is wrong with a manifest's ``records.frames`` (absent is fine: one frame).

    The frames must tile the object from byte 0 with no gap and in seq order, and their
    line counts add up to the bundle's.
    """
    records = doc["records"]
    if "frames" not in records:
        return []
    frames = records["frames"]
    if not isinstance(frames, list) or len(frames) < 2:
        return ["manifest field records.frames is malformed"]
    offset, seq, count = 0, doc["seq_first"] - 1, 0
    for frame in frames:
        if not (
            isinstance(frame, dict)
            and frame.keys() == _FIELDS.keys()
            and all(type(frame[name]) is kind for name, kind in _FIELDS.items())
            and not refers_back_problems({"refers_back": frame["refers_back"]})
        ):
            return ["manifest field records.frames is malformed"]
        if (
            frame["offset"] != offset
            or frame["size"] <= 0
            or frame["record_count"] <= 0
            or not seq < frame["seq_first"] <= frame["seq_last"] <= doc["seq_last"]
        ):
            return ["manifest field records.frames does not tile the records object in order"]
        offset += frame["size"]
        seq = frame["seq_last"]
        count += frame["record_count"]
    if offset != records["size"] or count != doc["record_count"]:
        return ["manifest field records.frames does not add up to the records object"]
    return []


def frame_lines(index: int, frame: dict[str, Any], data: bytes) -> tuple[list[bytes], list[str]]:
    """Check one frame's stored bytes against its entry; its lines (without newline) and problems.

    Lines are returned only when the bytes match the signed SHA-256: what they hold is then
    what was sealed, and the count and seq checks are the same as ``verify``'s.
    """
    problems: list[str] = []
    lines = list(_checked_lines(index, frame, data, problems))
    last = frame["seq_first"] - 1
    for line in lines:
        seq = _seq(line)
        if not last < seq <= frame["seq_last"]:
            problems.append(f"records frame {index} holds a record out of its seq range or order")
            break
        last = seq
    return lines, problems


def framed_lines(
    stream: BinaryIO, frames: list[dict[str, Any]], problems: list[str]
) -> Iterator[bytes]:
    """Every line of a framed records object read from ``stream``, each frame checked; the
    caller checks the order of every seq, so of each frame only its ends are held to its
    range here. Problems are added to ``problems``; the bytes after the last frame are read
    (so a caller hashing the stream sees them all) and reported."""
    for index, frame in enumerate(frames):
        data = _read_exactly(stream, frame["size"])
        first = last = b""
        for last in _checked_lines(index, frame, data, problems):
            first = first or last
            yield last
        if first and not frame["seq_first"] <= _seq(first) <= _seq(last) <= frame["seq_last"]:
            problems.append(f"records frame {index} holds a record out of its seq range or order")
    extra = 0
    while part := stream.read(1 << 20):
        extra += len(part)
    if extra:
        problems.append(f"records object holds {extra} bytes after its last frame")


def _checked_lines(
    index: int, frame: dict[str, Any], data: bytes, problems: list[str]
) -> Iterator[bytes]:
    """The lines of one frame's bytes, once they match the frame's SHA-256; what is wrong with
    them (not one whole zstd frame of whole lines, another count) goes to ``problems``.

    The frame is decompressed 64 KB of input at a time, and split into lines piece by
    piece: a line is still in the processor's cache when the caller hashes it
    (decompressing the whole frame into one buffer first made ``verify`` a third slower).
    """
    name = f"records frame {index}"
    if len(data) != frame["size"] or hashlib.sha256(data).hexdigest() != frame["sha256"]:
        problems.append(f"{name} does not match its SHA-256 in the manifest")
        return
    count, tail = 0, []  # the start of a line not yet ended, in pieces (a line may be long)
    decompressor = zstandard.ZstdDecompressor().decompressobj()
    view = memoryview(data)
    try:
        for start in range(0, len(data), _PIECE):
            out = decompressor.decompress(view[start : start + _PIECE])
            end = out.rfind(b"\n")
            if end < 0:
                tail.append(out)
            else:
                lines = b"".join([*tail, out[:end]]).split(b"\n")
                tail = [out[end + 1 :]]
                count += len(lines)
                yield from lines
            if decompressor.eof:
                if decompressor.unused_data or start + _PIECE < len(data):
                    problems.append(f"{name} is not one whole zstd frame")
                break
        else:
            problems.append(f"{name} is not one whole zstd frame")
    except zstandard.ZstdError as exc:
        problems.append(f"{name} cannot be decompressed: {exc}")
        return
    if any(tail):
        problems.append(f"{name} does not end with a whole line")
    if count != frame["record_count"]:
        problems.append(f"{name} holds {count} records, manifest says {frame['record_count']}")


_PIECE = 64 * 1024


def _seq(line: bytes) -> int:
    """The seq at the end of a sealed line (``codec.line_seq``), or -1 for one that is not."""
    try:
        return line_seq(line)
    except ValueError:
        return -1


def _read_exactly(stream: BinaryIO, size: int) -> bytes:
    parts, left = [], size
    while left > 0 and (part := stream.read(min(left, 1 << 20))):
        parts.append(part)
        left -= len(part)
    return b"".join(parts)
