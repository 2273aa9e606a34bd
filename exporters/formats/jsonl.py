"""The jsonl format: one line per record, streamed without a spill.

Each line is ``{"bundle":n,"record":{…},"seq":n,"verified":b}``: the sealed
line's bytes as they are in the bundle (``{"record":…,"seq":n}``), copied
without being decoded and encoded again, with ``bundle`` put before them and
``verified`` after, so the record's hash can be checked against the bundle's
Merkle tree. A source without sealed lines (records in memory) has each
record's canonical body encoded instead, the same bytes for a sealed record. ``records.jsonl`` is created with the first
matching record; when none matches, ``NO-RECORDS-MATCHED.txt`` is written instead.
"""

from __future__ import annotations

from collections.abc import Callable, Iterator, Mapping, Sequence
from contextlib import ExitStack
from typing import Any

from archive.codec import encode_body, sealed_line
from archive.model import Record
from exporters.empty import write_notice
from exporters.output import OutputDir
from exporters.source import BundleInfo

JSONL_NAME = "records.jsonl"
Read = tuple[Record | None, BundleInfo, bytes | None]
"""A record read, its bundle, and its sealed line when the source has it. A line with
no record (None) is one the reader keeps without looking: it is written as it is."""
_FLUSH = 1 << 20  # bytes of lines gathered before one write


def export_jsonl(
    records: Iterator[Read],
    out: OutputDir,
    keep: Callable[[Record], bool],
    filters: Mapping[str, Any],
    bundles: Sequence[BundleInfo],
) -> int:
    """Write the records ``keep`` selects into ``records.jsonl``; return how many were read.

    Every record is read (and counted) even when the file is already complete.
    ``bundles`` (filled while ``records`` is read) and ``filters`` go into the notice.
    """
    read = 0
    if out.done(JSONL_NAME):
        for _ in records:
            read += 1
        return read
    with ExitStack() as stack:
        handle = None  # created with the first matching record (none: the notice instead)
        pending: list[bytes] = []
        size = 0
        for record, info, line in records:
            read += 1
            if record is not None:
                if not keep(record):
                    continue
                if line is None:
                    line = sealed_line(record.seq or 0, encode_body(record))
            elif line is None:
                raise ValueError("a jsonl read has neither a record nor a line")
            if handle is None:
                handle = stack.enter_context(out.create(JSONL_NAME))
            pending.append(
                b'{"bundle":%d,%b,"verified":%b}\n'
                % (info.number, line[1:-1], b"true" if info.verified else b"false")
            )
            size += len(line)
            if size >= _FLUSH:
                handle.write(b"".join(pending))
                pending.clear()
                size = 0
        if handle is not None and pending:
            handle.write(b"".join(pending))
    if handle is None:
        write_notice(out, filters, bundles)
    return read
