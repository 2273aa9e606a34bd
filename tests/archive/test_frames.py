"""Records objects in several zstd frames: the table in the manifest, verify, resumed seals."""

from __future__ import annotations

import copy
import hashlib
import io
from dataclasses import replace
from typing import Any

import pytest
import zstandard

from archive import frames, merkle
from archive.bundle import build_records_object, iter_lines, parse_manifest
from archive.clock import FixedClock
from archive.codec import sealed_line
from archive.frames import FRAME_JOIN, frame_lines
from archive.journal import BundleRow, BundleState
from archive.journal.sqlite import SqliteJournal
from archive.keys import Signer
from archive.references import REFERRING_KINDS, References
from archive.seal import SealPolicy, seal
from archive.store.s3 import S3ArchiveStore
from archive.verify import verify_stream
from tests.archive.faults import FaultyBundleJournal
from tests.archive.test_records_object import COUNT, _rows

SMALL = 64 * 1024  # frames end at the first batch of 1,024 rows past this: one batch each


def test_frames_tile_the_object_and_hold_its_lines_in_order(journal: SqliteJournal) -> None:
    """Each frame is one zstd frame of whole lines; together they are the one-frame object's
    lines, with the same Merkle root, and each frame's refers_back is its own rows'."""
    rows = _rows(journal)
    framed = build_records_object(rows, 3, frame_bytes=SMALL)
    whole = build_records_object(rows, 3)
    assert whole.frames == ()
    assert [f.record_count for f in framed.frames] == [1024, 1024, COUNT - 2048]
    assert framed.merkle_root == whole.merkle_root
    assert framed.record_count == whole.record_count == COUNT
    assert framed.refers_back == whole.refers_back
    assert list(iter_lines(io.BytesIO(framed.data))) == list(iter_lines(io.BytesIO(whole.data)))
    offset, start = 0, 0
    for index, frame in enumerate(framed.frames):
        assert frame.offset == offset
        data = framed.data[offset : offset + frame.size]
        lines, problems = frame_lines(index, frame.to_json(), data)
        assert problems == []
        part = rows[start : start + frame.record_count]
        assert lines == [sealed_line(seq, body) for seq, body, *_ in part]
        assert (frame.seq_first, frame.seq_last) == (part[0][0], part[-1][0])
        references = References()
        for _, body, _, conversation, _, kind in part:
            if kind in REFERRING_KINDS:
                references.note(conversation, kind, body)
        assert frame.refers_back == references.manifest_field(join=FRAME_JOIN)
        offset += frame.size
        start += frame.record_count
    assert offset == framed.size


def _doc(table: list[dict[str, Any]], size: int, count: int) -> dict[str, Any]:
    return {
        "seq_first": 1,
        "seq_last": 100,
        "record_count": count,
        "records": {"size": size, "frames": table},
    }


def _table() -> list[dict[str, Any]]:
    one = {
        "offset": 0,
        "size": 10,
        "sha256": "0" * 64,
        "record_count": 5,
        "seq_first": 1,
        "seq_last": 5,
        "refers_back": {},
    }
    two = {**one, "offset": 10, "size": 7, "record_count": 3, "seq_first": 6, "seq_last": 9}
    return [one, two]


@pytest.mark.parametrize(
    ("change", "problem"),
    [
        (lambda t: t.pop(), "malformed"),  # one frame needs no table
        (lambda t: t[1].update(offset=11), "does not tile"),
        (lambda t: t[1].update(seq_first=5), "does not tile"),
        (lambda t: t[1].update(seq_last=101), "does not tile"),
        (lambda t: t[0].update(record_count=True), "malformed"),
        (lambda t: t[0].update(refers_back={"c": []}), "malformed"),
        (lambda t: t[0].pop("sha256"), "malformed"),
        (lambda t: t[1].update(size=8), "does not add up"),
        (lambda t: t[1].update(record_count=4), "does not add up"),
    ],
)
def test_a_frame_table_that_does_not_describe_the_object_is_a_finding(
    change: Any, problem: str
) -> None:
    """The table must tile the object from byte 0, in seq order, and add up to it."""
    assert frames.field_problems(_doc(_table(), 17, 8)) == []
    assert frames.field_problems({"records": {}, "seq_first": 1}) == []
    table = copy.deepcopy(_table())
    change(table)
    (found,) = frames.field_problems(_doc(table, 17, 8))
    assert problem in found


def test_a_frame_is_checked_against_its_entry(journal: SqliteJournal) -> None:
    """A changed byte, another frame's bytes, or a count that differs are each named."""
    built = build_records_object(_rows(journal), 3, frame_bytes=SMALL)
    first, second = (f.to_json() for f in built.frames[:2])
    data = built.data[: first["size"]]
    assert frame_lines(0, first, data)[1] == []
    flipped = data[:-1] + bytes([data[-1] ^ 1])
    assert frame_lines(0, first, flipped) == (
        [],
        ["records frame 0 does not match its SHA-256 in the manifest"],
    )
    other = built.data[second["offset"] : second["offset"] + second["size"]]
    assert frame_lines(0, first, other)[1] == [
        "records frame 0 does not match its SHA-256 in the manifest"
    ]
    # An entry whose hash is right but whose count and seqs are not (a sealer's mistake).
    wrong = {**first, "record_count": 1000, "seq_last": first["seq_last"] - 1}
    lines, problems = frame_lines(0, wrong, data)
    assert len(lines) == 1024
    assert problems == [
        "records frame 0 holds 1024 records, manifest says 1000",
        "records frame 0 holds a record out of its seq range or order",
    ]
    # verify reads the same frame from the object's stream, and finds the same.
    found: list[str] = []
    assert list(frames.framed_lines(io.BytesIO(data), [wrong], found)) == lines
    assert found == problems
    # Bytes that are not one whole frame of whole lines (their entry's hash made to match).
    two = data + built.data[second["offset"] : second["offset"] + second["size"]]
    for cut, problem in (
        (two, "not one whole zstd frame"),
        (data[:-4], "not one whole zstd frame"),
    ):
        entry = {**first, "size": len(cut), "sha256": hashlib.sha256(cut).hexdigest()}
        assert any(problem in p for p in frame_lines(0, entry, cut)[1]), problem


def _manifest(store: S3ArchiveStore, policy: SealPolicy, number: int) -> dict[str, Any]:
    key = policy.layout.manifest_key(number)
    (version,) = [v for v in store.versions(key) if v.key == key]
    return parse_manifest(store.get(key, version.version_id))


def test_a_framed_archive_verifies_and_lists_its_frames(
    journal: SqliteJournal,
    store: S3ArchiveStore,
    signer: Signer,
    policy: SealPolicy,
    clock: FixedClock,
) -> None:
    """Sealed with small frames: the manifest's table matches the stored bytes; verify passes."""
    policy = replace(policy, max_records=10_000, frame_bytes=SMALL)
    rows = _rows(journal, attachments=False)  # no blobs to lock
    seal(journal, store, signer, policy, clock)
    doc = _manifest(store, policy, 1)
    table = doc["records"]["frames"]
    assert [f["record_count"] for f in table] == [1024, 1024, COUNT - 2048]
    spec = doc["records"]
    data = store.get(spec["key"], spec["version_id"])
    lines = []
    for index, frame in enumerate(table):
        found, problems = frame_lines(index, frame, data[frame["offset"] :][: frame["size"]])
        assert problems == []
        lines += found
    assert lines == [sealed_line(seq, body) for seq, body, *_ in rows]
    assert merkle.root([merkle.leaf_hash(line) for line in lines]).hex() == spec["merkle_root"]
    report = verify_stream(store, policy.layout, {signer.public.key_id: signer.public})
    assert report.ok, report.findings


def test_an_adopted_records_object_of_another_build_is_described_as_stored(
    journal: SqliteJournal,
    store: S3ArchiveStore,
    signer: Signer,
    policy: SealPolicy,
    clock: FixedClock,
) -> None:
    """A run that crashed after storing the records object is resumed by one that builds other
    bytes of the same lines (another zstd level): the manifest names the stored object's hash
    and size, and carries no frame table (the table would describe the rebuilt bytes)."""
    policy = replace(policy, max_records=10_000, frame_bytes=SMALL)
    _rows(journal, attachments=False)

    class Crash(Exception):
        pass

    def update(row: BundleRow) -> None:
        if row.state is BundleState.RECORDS_STORED:
            raise Crash

    with pytest.raises(Crash):
        seal(FaultyBundleJournal(journal, update), store, signer, policy, clock)
    seal(journal, store, signer, replace(policy, zstd_level=9), clock)
    doc = _manifest(store, policy, 1)
    key = policy.layout.records_key(1)
    (stored,) = [v for v in store.versions(key) if v.key == key]
    assert doc["records"]["size"] == stored.size
    assert "frames" not in doc["records"]
    report = verify_stream(store, policy.layout, {signer.public.key_id: signer.public})
    assert report.ok, report.findings


def test_a_line_longer_than_a_piece_of_the_frame_is_read_whole() -> None:
    """A frame is decompressed a piece at a time; a line spanning many pieces comes out whole."""
    lines = [
        sealed_line(seq, b'{"text":"%s"}' % (b"x" * (3 << 20 if seq == 2 else 10)))
        for seq in (1, 2, 3)
    ]
    sink = io.BytesIO()
    with zstandard.ZstdCompressor(level=3, write_checksum=True).stream_writer(
        sink, closefd=False
    ) as writer:
        writer.write(b"".join(line + b"\n" for line in lines))
    data = sink.getvalue()
    entry = {
        "offset": 0,
        "size": len(data),
        "sha256": hashlib.sha256(data).hexdigest(),
        "record_count": 3,
        "seq_first": 1,
        "seq_last": 3,
        "refers_back": {},
    }
    assert frame_lines(0, entry, data) == (lines, [])
