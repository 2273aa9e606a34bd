"""A filtered folding export reads, of a later framed bundle, only the frames it needs."""

from __future__ import annotations

import json
from collections.abc import Iterable, Iterator
from dataclasses import replace
from datetime import timedelta
from pathlib import Path

import pytest

from archive.bundle import Layout
from archive.clock import FixedClock
from archive.errors import IntegrityError
from archive.journal.sqlite import SqliteJournal
from archive.keys import Signer
from archive.model import Kind, Record
from archive.seal import SealPolicy
from archive.store.port import ArchiveStore
from archive.store.s3 import S3ArchiveStore
from exporters.archive_source import ArchiveBundleSource
from exporters.custody import verify_export
from exporters.output import MANIFEST_NAME
from exporters.source import BundleInfo
from tests.exporters.export_fixtures import EXPORT_SIGNER, run
from tests.exporters.test_bundle_selection import OpenedRecords
from tests.exporters.test_later_references import FILTERS, IN_RANGE, _about, _seal_all, _text
from tests.factories import BASE_TIME, slack_message

DAY = timedelta(days=1)
SMALL = 64 * 1024  # a frame per batch of 1,024 rows: frames 0..3 of the later bundle


class RangedReads(OpenedRecords):
    """Notes whole records objects opened and byte ranges fetched, by bundle number."""

    def __init__(self, inner: ArchiveStore) -> None:
        super().__init__(inner)
        self.ranges: list[tuple[str, int, int]] = []

    def get_range(self, key: str, version_id: str, offset: int, size: int) -> bytes:
        self.ranges.append((key.split("/")[-2].lstrip("0"), offset, size))
        return self.inner.get_range(key, version_id, offset, size)


class FlippedRange(RangedReads):
    """Every ranged read comes back with its last byte changed."""

    def get_range(self, key: str, version_id: str, offset: int, size: int) -> bytes:
        data = super().get_range(key, version_id, offset, size)
        return data[:-1] + bytes([data[-1] ^ 1])


def _batches() -> list[list[Record]]:
    """Bundle 1: C1 on the day of the range. Bundle 2, 3,500 records two days on: C2 chatter
    with, in its second frame, an edit and a reaction of an in-range message; in its third, a
    reaction to a message from before the range; in its fourth, a C1 message and its edit."""
    old = slack_message(0, channel="C1", at=BASE_TIME)
    kept = slack_message(10, channel="C1", at=IN_RANGE, text="Offer at 101")
    day = [old, kept, slack_message(11, channel="C1", at=IN_RANGE + timedelta(minutes=1))]
    later = [
        slack_message(1000 + i, channel="C2", at=BASE_TIME + 2 * DAY + timedelta(seconds=i))
        for i in range(3500)
    ]
    at = 2 + 1500 / 86400
    later[1500] = _about(
        kept, 2500, Kind.EDIT, at, text="Offer at 102", previous_text="Offer at 101"
    )
    later[1501] = _about(kept, 2501, Kind.REACTION_ADDED, at, text=None, details={"reaction": "ok"})
    later[2500] = _about(old, 3500, Kind.REACTION_ADDED, 2.03, text=None, details={"reaction": "x"})
    third = slack_message(4200, channel="C1", at=BASE_TIME + 2 * DAY + timedelta(hours=1))
    later[3200] = third
    later[3201] = _about(third, 4201, Kind.EDIT, 2.05, text="day three, revised")
    return [day, later]


@pytest.fixture
def framed(
    journal: SqliteJournal,
    store: S3ArchiveStore,
    signer: Signer,
    policy: SealPolicy,
    clock: FixedClock,
) -> ArchiveBundleSource:
    """The archive sealed with small frames (stream ``test``)."""
    policy = replace(policy, max_records=10_000, frame_bytes=SMALL)
    return _seal_all(journal, store, signer, policy, clock, _batches(), RangedReads)


@pytest.fixture
def whole(
    tmp_path: Path, store: S3ArchiveStore, signer: Signer, policy: SealPolicy, clock: FixedClock
) -> Iterator[ArchiveBundleSource]:
    """The same records sealed in one frame a bundle (stream ``whole``)."""
    policy = replace(policy, layout=Layout(stream="whole"), max_records=10_000, frame_bytes=1 << 40)
    with SqliteJournal(tmp_path / "whole.db") as journal:
        yield _seal_all(journal, store, signer, policy, clock, _batches(), RangedReads)


def _files(out: Path, bundles: Iterable[BundleInfo]) -> dict[str, bytes]:
    """The exported files but the custody manifest, each bundle's manifest hash (which html
    shows, and which differs between the two streams) replaced by its number."""
    files = {}
    for path in sorted(p for p in out.rglob("*") if p.is_file()):
        if not path.name.startswith("export-manifest"):
            data = path.read_bytes()
            for bundle in bundles:
                data = data.replace(bundle.manifest_sha256.encode(), b"<bundle %d>" % bundle.number)
            files[str(path.relative_to(out))] = data
    return files


@pytest.mark.parametrize(("fmt", "workers"), [("rsmf", 1), ("html", 2), ("csv", 1)])
def test_only_the_frame_holding_the_history_is_read_and_the_export_is_the_same(
    fmt: str,
    workers: int,
    framed: ArchiveBundleSource,
    whole: ArchiveBundleSource,
    tmp_path: Path,
) -> None:
    """The later bundle is read as one ranged GET of its second frame; every exported file is
    byte for byte the export of the same records sealed in one frame a bundle."""
    result = run(fmt, tmp_path / "framed", source=framed, filters=FILTERS, workers=workers)
    reference = run(fmt, tmp_path / "whole", source=whole, filters=FILTERS, workers=workers)
    table = json.loads(framed.store.get(*_manifest_key(framed, 2)))["records"]["frames"]
    assert len(table) == 4
    if workers == 1:  # spill workers read in processes of their own: the custody says it below
        store = framed.store
        assert store.opened == ["1"]  # type: ignore[attr-defined]
        frame = ("2", table[1]["offset"], table[1]["size"])
        assert store.ranges == [frame]  # type: ignore[attr-defined]
        assert whole.store.opened == ["1", "2"]  # type: ignore[attr-defined]
    assert result.records_read == 3 + 1024
    assert reference.records_read == 3 + 3500
    framed_files = _files(tmp_path / "framed", result.bundles)
    assert framed_files == _files(tmp_path / "whole", reference.bundles)
    text = _text(tmp_path / "framed")
    assert "Offer at 102" in text
    assert "day three" not in text
    custody = json.loads((tmp_path / "framed" / MANIFEST_NAME).read_text())
    assert [b.get("frames") for b in custody["bundles"]] == [None, [1]]
    assert custody["verification"]["status"] == "verified"
    assert verify_export(
        tmp_path / "framed", {EXPORT_SIGNER.public.key_id: EXPORT_SIGNER.public}
    ).ok


def _manifest_key(source: ArchiveBundleSource, number: int) -> tuple[str, str]:
    key = source.layout.manifest_key(number)
    (version,) = [v for v in source.store.versions(key) if v.key == key]
    return key, version.version_id


def test_a_frame_that_does_not_match_its_hash_fails_the_export(
    framed: ArchiveBundleSource, tmp_path: Path
) -> None:
    """A changed byte in a ranged read refuses the export, naming the bundle and the frame;
    allowed unverified, the bundle is marked so in the custody manifest."""
    source = ArchiveBundleSource(FlippedRange(framed.store), framed.layout, framed.keys)
    with pytest.raises(IntegrityError, match="bundle 2 failed verification: records frame 1"):
        run("rsmf", tmp_path / "refused", source=source, filters=FILTERS)
    run("rsmf", tmp_path / "out", source=source, filters=FILTERS, allow_unverified=True)
    custody = json.loads((tmp_path / "out" / MANIFEST_NAME).read_text())
    assert custody["verification"]["unverified_bundles"] == [2]
    (entry,) = [b for b in custody["bundles"] if b["number"] == 2]
    assert entry["frames"] == [1]
    assert entry["problem"] == "records frame 1 does not match its SHA-256 in the manifest"
