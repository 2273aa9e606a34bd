"""The jsonl format: one line per record, streamed without a spill.

Each line is ``{"bundle":n,"record":{…},"seq":n,"verified":b}``. The
``record`` value is the record's canonical body, so its hash can be checked
against the bundle's Merkle tree. ``records.jsonl`` is created with the first
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


def export_jsonl(
    records: Iterator[tuple[Record, BundleInfo]],
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
        for record, info in records:
            read += 1
            if not keep(record):
                continue
            if handle is None:
                handle = stack.enter_context(out.create(JSONL_NAME))
            line = sealed_line(record.seq or 0, encode_body(record))
            verified = b"true" if info.verified else b"false"
            handle.write(
                b'{"bundle":'
                + str(info.number).encode()
                + b","
                + line[1:-1]
                + b',"verified":'
                + verified
                + b"}\n"
            )
    if handle is None:
        write_notice(out, filters, bundles)
    return read
