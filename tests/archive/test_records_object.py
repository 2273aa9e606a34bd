"""The records object built from journal rows: its bytes, Merkle root and manifest summary."""

from __future__ import annotations

import io
from dataclasses import replace
from datetime import timedelta

import zstandard

from archive import merkle
from archive.bundle import build_records_object
from archive.codec import parse_time, sealed_line
from archive.journal import SealRow
from archive.journal.sqlite import SqliteJournal
from archive.model import Kind
from archive.references import REFERRING_KINDS, References
from tests.factories import BASE_TIME, slack_message, stored_attachment

COUNT = 2_600  # more than two of the builder's batches, and not a multiple of one


def _rows(journal: SqliteJournal, attachments: bool = True) -> list[SealRow]:
    """Rows of messages in three channels, with edits, reactions and stored attachments."""
    records = []
    for n in range(COUNT):
        record = slack_message(n, channel=f"C{n % 3}", at=BASE_TIME - timedelta(seconds=n % 7))
        if n % 97 == 5:
            record = replace(record, kind=Kind.EDIT, message_id=f"{1.8e9 + n:.6f}")
        if n % 89 == 3:
            record = replace(record, kind=Kind.REACTION_ADDED)
        if attachments and n % 301 == 7:
            record = replace(record, attachments=(stored_attachment(b"%d" % n),))
        records.append(record)
    journal.append(records)
    return list(journal.row_source().rows(1, COUNT))


def test_records_object_is_the_stream_of_its_sealed_lines(journal: SqliteJournal) -> None:
    """The object is zstd (level, checksum, zstd's threads) of the newline-ended sealed lines,
    byte for byte, and its Merkle root is that of their leaf hashes."""
    rows = _rows(journal)
    built = build_records_object(journal.row_source().rows(1, COUNT), 3)
    lines = [sealed_line(seq, body) for seq, body, *_ in rows]
    sink = io.BytesIO()
    compressor = zstandard.ZstdCompressor(level=3, write_checksum=True, threads=-1)
    with compressor.stream_writer(sink, closefd=False) as writer:
        writer.write(b"".join(line + b"\n" for line in lines))
    assert built.data == sink.getvalue()
    assert built.record_count == COUNT
    assert built.merkle_root == merkle.root([merkle.leaf_hash(line) for line in lines]).hex()


def test_records_object_summarises_every_row(journal: SqliteJournal) -> None:
    """Conversations, time range, blobs and refers_back cover all rows of all batches."""
    rows = _rows(journal)
    built = build_records_object(rows, 3)
    references = References()
    for _, body, _, conversation, _, kind in rows:
        if kind in REFERRING_KINDS:
            references.note(conversation, kind, body)
    assert built.conversations == ("slack:T0001:C0", "slack:T0001:C1", "slack:T0001:C2")
    assert built.first_occurred_at == parse_time(min(row[2] for row in rows))
    assert built.last_occurred_at == parse_time(max(row[2] for row in rows))
    assert built.blobs == tuple(sorted({b for row in rows for b in row[4].split()}))
    assert len(built.blobs) == 9
    assert built.refers_back == references.manifest_field()
    assert built.refers_back
