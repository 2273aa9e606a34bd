"""The jsonl format: one line per record, streamed without a spill.

Each line is ``{"bundle":n,"record":{…},"seq":n,"verified":b}``. The
``record`` value is the record's canonical body, so its hash can be checked
against the bundle's Merkle tree.
"""

from __future__ import annotations

from collections.abc import Callable, Iterator

from archive.codec import encode_body, sealed_line
from archive.model import Record
from exporters.output import OutputDir
from exporters.source import BundleInfo

JSONL_NAME = "records.jsonl"


def export_jsonl(
    records: Iterator[tuple[Record, BundleInfo]],
    out: OutputDir,
    keep: Callable[[Record], bool],
) -> int:
    """Write the records ``keep`` selects into ``records.jsonl``; return how many were read.

    Every record is read (and counted) even when the file is already complete.
    """
    read = 0
    if out.done(JSONL_NAME):
        for _ in records:
            read += 1
        return read
    with out.create(JSONL_NAME) as handle:
        for record, info in records:
            read += 1
            if not keep(record):
                continue
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
    return read
