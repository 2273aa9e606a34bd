"""Format ``chatkeeper-bundle/1``: object keys, the records object, the manifest.

A bundle is a records object (sealed lines, newline-terminated, zstd) and a
manifest (canonical JSON, Ed25519-signed) written last. docs/archive-format.md
is the normative description; keep the two in step.
"""

from __future__ import annotations

import base64
import hashlib
import io
import itertools
import json
from collections.abc import Iterable, Iterator
from dataclasses import dataclass
from datetime import datetime
from typing import Any, BinaryIO

import zstandard

from archive import merkle
from archive.codec import canonical_json, format_time, parse_time
from archive.frames import FRAME_BYTES, Frame, FrameWriter
from archive.journal.port import SealRow
from archive.keys import ALGORITHM, PublicKey, Signer
from archive.references import Spans
from archive.summary import Summary

FORMAT = "chatkeeper-bundle/1"


@dataclass(frozen=True)
class Layout:
    """Where a stream's objects live in the bucket."""

    stream: str
    prefix: str = ""

    def bundle_dir(self, number: int) -> str:
        return f"{self.prefix}streams/{self.stream}/bundles/{number:010d}/"

    @property
    def bundles_prefix(self) -> str:
        return f"{self.prefix}streams/{self.stream}/bundles/"

    def records_key(self, number: int) -> str:
        return self.bundle_dir(number) + "records.jsonl.zst"

    def manifest_key(self, number: int) -> str:
        return self.bundle_dir(number) + "manifest.json"

    def public_key_key(self, key_id: str) -> str:
        return f"{self.prefix}streams/{self.stream}/keys/{key_id}.pub.json"

    @property
    def checkpoints_prefix(self) -> str:
        return f"{self.prefix}streams/{self.stream}/checkpoints/"

    def checkpoint_key(self, number: int) -> str:
        return f"{self.checkpoints_prefix}{number:010d}.json"

    def parse_checkpoint_key(self, key: str) -> int | None:
        rest = key.removeprefix(self.checkpoints_prefix)
        number, dot, ext = rest.partition(".")
        if rest == key or not (number.isdigit() and len(number) == 10 and dot and ext == "json"):
            return None
        return int(number)

    @property
    def keys_prefix(self) -> str:
        return f"{self.prefix}streams/{self.stream}/keys/"

    def blob_key(self, sha256_hex: str) -> str:
        return f"{self.prefix}blobs/sha256/{sha256_hex[:2]}/{sha256_hex}"

    def parse_bundle_key(self, key: str) -> tuple[int, str] | None:
        """(number, object name) for a key under the bundles prefix."""
        rest = key.removeprefix(self.bundles_prefix)
        if rest == key:
            return None
        number, _, name = rest.partition("/")
        if not number.isdigit() or len(number) != 10:
            return None
        return int(number), name


@dataclass(frozen=True)
class RecordsObject:
    data: bytes
    sha256: str
    size: int
    record_count: int
    merkle_root: str
    first_occurred_at: datetime | None = None
    last_occurred_at: datetime | None = None
    conversations: tuple[str, ...] = ()
    blobs: tuple[str, ...] = ()
    key_rotations: tuple[dict[str, Any], ...] = ()
    archive_events: tuple[dict[str, Any], ...] = ()
    refers_back: dict[str, Spans] | None = None  # None: built without it (``references.py``)
    frames: tuple[Frame, ...] = ()  # empty: one frame (``frames.py``)


_LINE_HEAD = b'{"record":'
"""How every sealed line starts (``codec.sealed_line``): its body follows, then ``,"seq":N}``."""
_LEAF_HEAD = hashlib.sha256(b"\x00" + _LINE_HEAD)
"""A Merkle leaf's hash state after its prefix byte and ``_LINE_HEAD``: each leaf hash goes
on from a copy of it with the body and the end of the line, without building the line."""
_BATCH = 1024  # rows hashed and handed to zstd at a time (about 2 MB of lines)


def build_records_object(
    rows: Iterable[SealRow], level: int, frame_bytes: int = FRAME_BYTES
) -> RecordsObject:
    """Compress journal rows into the records object in one pass.

    Hashes every line for the Merkle tree and gathers the manifest's summary
    (time range, conversations, referenced blobs, ``refers_back``) on the way.
    Rows are taken a batch at a time: a sealed line is hashed and compressed
    from its parts (never built as one bytes object of its own), and the
    summary is taken over each batch's columns, so the per-row Python is the
    line's hash and its end ``,"seq":N}`` only.

    Every ``frame_bytes`` of lines (at a batch's end) close a zstd frame
    (``archive.frames``): one frame is compressed on a second thread while this
    one hashes the next.
    """
    leaves: list[bytes] = []
    summary = Summary()
    head, leaf_head, keep = _LINE_HEAD, _LEAF_HEAD, leaves.append
    source = iter(rows)
    with FrameWriter(level) as writer:
        chunks: list[bytes] = []
        size = counted = first_seq = last_seq = 0
        while batch := list(itertools.islice(source, _BATCH)):
            pieces: list[bytes] = []
            for seq, body, _, _, _, _ in batch:
                end = b',"seq":%d}' % seq
                leaf = leaf_head.copy()
                leaf.update(body)
                leaf.update(end)
                keep(leaf.digest())
                pieces += (head, body, end, b"\n")
            chunks.append(b"".join(pieces))
            size += len(chunks[-1])
            first_seq, last_seq = first_seq or batch[0][0], batch[-1][0]
            summary.add(batch)
            if size >= frame_bytes:
                writer.add(
                    chunks, len(leaves) - counted, (first_seq, last_seq), summary.end_frame()
                )
                chunks, size, counted, first_seq = [], 0, len(leaves), 0
        if chunks or not writer.added:
            writer.add(chunks, len(leaves) - counted, (first_seq, last_seq), summary.end_frame())
        data, frames = writer.finish()
    return RecordsObject(
        data=data,
        sha256=hashlib.sha256(data).hexdigest(),
        size=len(data),
        record_count=len(leaves),
        merkle_root=merkle.root(leaves).hex(),
        first_occurred_at=parse_time(summary.first) if summary.first else None,
        last_occurred_at=parse_time(summary.last) if summary.last else None,
        conversations=tuple(sorted(summary.conversations)),
        blobs=tuple(sorted(summary.blobs)),
        key_rotations=tuple(summary.rotations),
        archive_events=tuple(summary.events),
        refers_back=summary.bundle_references.manifest_field(),
        frames=frames if len(frames) > 1 else (),
    )


class HashingReader(io.RawIOBase):
    """Wraps a stream, counting and hashing every byte read through it."""

    def __init__(self, inner: BinaryIO) -> None:
        self.inner = inner
        self.digest = hashlib.sha256()
        self.size = 0

    def readable(self) -> bool:
        return True

    def readinto(self, buffer: Any) -> int:
        data = self.inner.read(len(buffer))
        n = len(data)
        buffer[:n] = data
        self.digest.update(data)
        self.size += n
        return n


def iter_lines(stream: BinaryIO) -> Iterator[bytes]:
    """Decompress a records object and yield its lines without the newline."""
    reader = zstandard.ZstdDecompressor().stream_reader(stream, read_across_frames=True)
    buffered = io.BufferedReader(reader, buffer_size=1 << 20)
    for line in buffered:
        yield line[:-1] if line.endswith(b"\n") else line


def build_manifest(
    *,
    stream: str,
    number: int,
    created_at: datetime,
    seq_first: int,
    seq_last: int,
    first_occurred_at: datetime | None,
    last_occurred_at: datetime | None,
    conversations: Iterable[str],
    records_key: str,
    records: RecordsObject,
    records_version: str,
    blobs: Iterable[tuple[str, str]],
    previous_manifest_sha256: str | None,
    retention_mode: str,
    retain_until: datetime,
    retention_class: dict[str, Any] | None = None,
) -> dict[str, Any]:
    """The unsigned manifest body (``key_rotations``, ``archive_events`` only when present;
    ``refers_back`` whenever the records object gathered it; ``records.frames`` when the
    records object has more than one frame)."""
    body: dict[str, Any] = {
        "format": FORMAT,
        "stream": stream,
        "bundle": number,
        "created_at": format_time(created_at),
        "seq_first": seq_first,
        "seq_last": seq_last,
        "record_count": records.record_count,
        "first_occurred_at": format_time(first_occurred_at) if first_occurred_at else None,
        "last_occurred_at": format_time(last_occurred_at) if last_occurred_at else None,
        "conversations": sorted(conversations),
        "records": {
            "key": records_key,
            "version_id": records_version,
            "sha256": records.sha256,
            "size": records.size,
            "encoding": "zstd",
            "merkle_root": records.merkle_root,
            **({"frames": [f.to_json() for f in records.frames]} if records.frames else {}),
        },
        "blobs": [{"sha256": h, "key": k} for h, k in sorted(blobs)],
        "previous_manifest_sha256": previous_manifest_sha256,
        "retention": {
            "mode": retention_mode,
            "retain_until": format_time(retain_until),
            **(retention_class or {}),
        },
    }
    if records.key_rotations:
        body["key_rotations"] = list(records.key_rotations)
    if records.archive_events:
        body["archive_events"] = list(records.archive_events)
    if records.refers_back is not None:
        body["refers_back"] = dict(records.refers_back)
    return body


def sign_manifest(body: dict[str, Any], signer: Signer) -> bytes:
    """The manifest object's bytes: the body plus a signature over its canonical form."""
    return sign_document(body, signer)


def sign_document(body: dict[str, Any], signer: Signer) -> bytes:
    """A manifest or checkpoint: ``body`` plus a signature over its canonical form."""
    signature = signer.sign(canonical_json(body))
    signed = {
        **body,
        "signature": {
            "alg": ALGORITHM,
            "key_id": signer.public.key_id,
            "value": base64.b64encode(signature).decode("ascii"),
        },
    }
    return canonical_json(signed)


def parse_manifest(data: bytes) -> dict[str, Any]:
    """Parse manifest bytes; ValueError if it is not a chatkeeper manifest."""
    doc = json.loads(data)
    if not isinstance(doc, dict) or doc.get("format") != FORMAT:
        raise ValueError(f"not a {FORMAT} manifest")
    return doc


def check_signature(doc: dict[str, Any], keys: dict[str, PublicKey]) -> str | None:
    """None if the signature is valid under a trusted key, else the problem."""
    signature = doc.get("signature")
    if not isinstance(signature, dict) or signature.get("alg") != ALGORITHM:
        return "missing or unknown signature"
    key = keys.get(str(signature.get("key_id")))
    if key is None:
        return f"signed by untrusted key {signature.get('key_id')!r}"
    body = {k: v for k, v in doc.items() if k != "signature"}
    try:
        value = base64.b64decode(str(signature.get("value")), validate=True)
    except ValueError:
        return "signature is not base64"
    return None if key.verify(value, canonical_json(body)) else "signature does not verify"
