"""The partition store takes records or their sealed lines' objects, and gives the same rows."""

from __future__ import annotations

from dataclasses import replace
from pathlib import Path

from archive.codec import encode_body, line_fields, sealed_line
from archive.model import Actor, Record
from exporters.partition import PartitionStore
from exporters.stored import StoredRecord
from tests.exporters.export_fixtures import archive_records


def _sample() -> list[Record]:
    """The sample archive, with one integer beyond 64 bits and one raw payload that is not
    UTF-8 (stored base64): both must come back exactly."""
    records = archive_records()
    records[3] = replace(records[3], details={**records[3].details, "file_id": 2**70 + 1})
    records[4] = replace(records[4], raw=b"\xff\xfe not utf-8")
    return records


def _rows(store: PartitionStore) -> list[tuple[object, ...]]:
    store.finish()
    return [
        (conversation, number, row)
        for conversation in store.conversations()
        for number in store.slices(conversation)
        for row in store.rows(conversation, number)
    ]


def test_sealed_objects_and_records_give_the_same_rows(tmp_path: Path) -> None:
    """Spilling a sealed line's JSON object (what export reads from the archive) routes and
    rebuilds each record exactly as spilling the record does, raw payload aside."""
    records = _sample()
    (tmp_path / "records").mkdir()
    (tmp_path / "lines").mkdir()
    from_records = PartitionStore(tmp_path / "records")
    from_lines = PartitionStore(tmp_path / "lines")
    for record in records:
        bundle = (record.seq or 0) // 10 + 1
        from_records.add(record, bundle, bundle != 2)
        data, seq = line_fields(sealed_line(record.seq or 0, encode_body(record)))
        from_lines.add_fields(data, seq, bundle, bundle != 2)
    expected = _rows(from_records)
    assert _rows(from_lines) == expected
    assert from_lines.names == from_records.names
    assert sorted(row.record.key for _, _, row in expected) == sorted(r.key for r in records)
    by_key = {r.key: r for r in records}
    for conversation, _, row in expected:
        record = by_key[row.record.key]
        actor = record.actor
        if actor is not None and not actor.name:  # named by id only: the export's name for it
            named = from_records.name_of(conversation, actor.id)
            actor = actor if named is None else replace(actor, name=named)
        record = replace(record, actor=actor)
        assert row.record == StoredRecord(*(getattr(record, f) for f in StoredRecord._fields))
        assert row.verified == ((row.record.seq or 0) // 10 + 1 != 2)


def test_an_actor_named_by_id_only_gets_the_name_another_record_gives_it(tmp_path: Path) -> None:
    """Read back, a record whose actor has no name carries the name a later record of the
    same workspace gives that id; an actor of another workspace keeps having none."""
    records = archive_records()
    named = next(r for r in records if r.actor is not None and r.actor.name)
    assert named.actor is not None
    first = replace(named, key="a" * 64, seq=1, actor=Actor(named.actor.id))
    elsewhere = replace(first, key="b" * 64, seq=2, workspace="T0OTHER01")
    store = PartitionStore(tmp_path)
    for record in (first, elsewhere, replace(named, seq=3)):
        store.add(record, 1, True)
    rows = {row.record.key: row.record for _, _, row in _rows(store)}
    assert rows[first.key].actor == Actor(named.actor.id, named.actor.name)
    assert rows[elsewhere.key].actor == Actor(named.actor.id)
