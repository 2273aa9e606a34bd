"""A filtered folding export reads the later bundles that hold an in-range message's history."""

from __future__ import annotations

import io
import zipfile
from collections.abc import Callable, Iterable, Iterator
from dataclasses import replace
from datetime import timedelta
from email import policy as email_policy
from email.parser import BytesParser
from pathlib import Path

import pytest

from archive import seal_build
from archive.bundle import RecordsObject
from archive.clock import FixedClock
from archive.journal import RowSource
from archive.journal.sqlite import SqliteJournal
from archive.keys import Signer
from archive.model import Kind, Record
from archive.seal import SealPolicy, seal
from archive.seal_build import Compression
from archive.store.port import ArchiveStore
from archive.store.s3 import S3ArchiveStore
from exporters.archive_source import ArchiveBlobs, ArchiveBundleSource
from exporters.filters import Filters
from exporters.source import BundleRecords
from tests.exporters.export_fixtures import run
from tests.exporters.test_bundle_selection import OpenedRecords
from tests.factories import BASE_TIME, slack_message

DAY = timedelta(days=1)
IN_RANGE = BASE_TIME + DAY + timedelta(hours=2)
FILTERS = Filters(conversations=("C1",), start=BASE_TIME + DAY, end=BASE_TIME + 2 * DAY)


def _about(target: Record, n: int, kind: Kind, at: float, **fields: object) -> Record:
    """Record ``n`` of ``kind``, ``at`` days after the base, about the message ``target``."""
    record = slack_message(n, channel="C1", kind=kind, at=BASE_TIME + timedelta(days=at))
    return replace(record, message_id=target.message_id, **fields)  # type: ignore[arg-type]


def _batches() -> list[list[Record]]:
    """Six bundles: C1 day 1; C1 day 2 (the range); C2 day 3; C1 day 4 with its own edit;
    the history of a day-2 message on day 5; a reaction to a day-1 message on day 6."""
    old = slack_message(0, channel="C1", at=BASE_TIME)
    kept = slack_message(10, channel="C1", at=IN_RANGE, text="Offer at 101")
    gone = slack_message(11, channel="C1", at=IN_RANGE + timedelta(minutes=1), text="Call me")
    day4 = slack_message(30, channel="C1", at=BASE_TIME + 3 * DAY)
    return [
        [
            old,
            *(slack_message(i, channel="C1", at=BASE_TIME + timedelta(minutes=i)) for i in (1, 2)),
        ],
        [kept, gone, slack_message(12, channel="C1", at=IN_RANGE + timedelta(minutes=2))],
        [slack_message(20, channel="C2", at=BASE_TIME + 2 * DAY)],
        [day4, _about(day4, 31, Kind.EDIT, 3.1, text="day four, revised")],
        [
            _about(
                kept, 40, Kind.EDIT, 4, text="Offer at 102 revised", previous_text="Offer at 101"
            ),
            _about(
                kept, 41, Kind.REACTION_ADDED, 4.1, text=None, details={"reaction": "handshake"}
            ),
            _about(gone, 42, Kind.DELETE, 4.2, text=None, previous_text="Call me"),
        ],
        [_about(old, 50, Kind.REACTION_ADDED, 5, text=None, details={"reaction": "eyes"})],
    ]


def _seal_all(
    journal: SqliteJournal,
    store: S3ArchiveStore,
    signer: Signer,
    policy: SealPolicy,
    clock: FixedClock,
    batches: list[list[Record]] | None = None,
    reads: Callable[[ArchiveStore], ArchiveStore] = OpenedRecords,
) -> ArchiveBundleSource:
    """Seal each batch (``_batches()`` by default) as a bundle; the archive read through
    ``reads`` (a store noting what is read)."""
    for batch in batches if batches is not None else _batches():
        journal.append(batch)
        seal(journal, store, signer, policy, clock)
    keys = {signer.public.key_id: signer.public}
    return ArchiveBundleSource(reads(store), policy.layout, keys)


def _text(out: Path) -> str:
    """Every file of an export as text: email parts decoded, zip members read."""
    chunks: list[str] = []
    for path in sorted(p for p in out.rglob("*") if p.is_file()):
        data = path.read_bytes()
        if path.suffix not in (".eml", ".rsmf"):
            chunks.append(data.decode("utf-8", "replace"))
            continue
        for part in BytesParser(policy=email_policy.default).parsebytes(data).walk():
            payload = part.get_payload(decode=True)
            if not isinstance(payload, bytes):
                continue
            if payload.startswith(b"PK"):
                with zipfile.ZipFile(io.BytesIO(payload)) as archive:
                    payloads: Iterable[bytes] = [archive.read(n) for n in archive.namelist()]
            else:
                payloads = [payload]
            chunks += [p.decode("utf-8", "replace") for p in payloads]
    return "\n".join(chunks)


@pytest.mark.parametrize("fmt", ["rsmf", "html", "eml"])
def test_in_range_message_keeps_its_later_history_and_unrelated_bundles_are_skipped(
    fmt: str,
    journal: SqliteJournal,
    store: S3ArchiveStore,
    signer: Signer,
    policy: SealPolicy,
    clock: FixedClock,
    tmp_path: Path,
) -> None:
    """One day of C1 reads its own bundle and the one holding its edit, reaction and deletion."""
    source = _seal_all(journal, store, signer, policy, clock)
    blobs = ArchiveBlobs(store, policy.layout)
    result = run(fmt, tmp_path / "out", source=source, blobs=blobs, filters=FILTERS)
    assert source.store.opened == ["2", "5"]  # type: ignore[attr-defined]
    assert [b.number for b in result.bundles] == [1, 2, 3, 4, 5, 6]  # all searched
    assert result.records_read == 6
    text = _text(tmp_path / "out")
    assert "Offer at 102 revised" in text  # the edit sealed three days later
    assert "handshake" in text  # the reaction
    assert "day four, revised" not in text


def test_manifests_say_how_far_back_their_records_refer(
    journal: SqliteJournal,
    store: S3ArchiveStore,
    signer: Signer,
    policy: SealPolicy,
    clock: FixedClock,
) -> None:
    """Each manifest's refers_back spans the times of the messages its records point at."""
    from archive.codec import format_time

    _seal_all(journal, store, signer, policy, clock)
    manifests = [
        store.get(v.key, v.version_id)
        for n in range(1, 7)
        for v in store.versions(policy.layout.manifest_key(n))
    ]
    import json

    refers = [json.loads(m)["refers_back"] for m in manifests]
    stamp = format_time(IN_RANGE)
    assert refers[:3] == [{}, {}, {}]
    assert refers[3] == {"slack:T0001:C1": [[format_time(BASE_TIME + 3 * DAY)] * 2]}
    assert refers[4] == {
        "slack:T0001:C1": [[stamp] * 2, [format_time(IN_RANGE + timedelta(minutes=1))] * 2],
    }
    assert refers[5] == {"slack:T0001:C1": [[format_time(BASE_TIME)] * 2]}


def _without_refers_back(
    build: Callable[[RowSource, int, int, Compression], RecordsObject],
) -> Callable[[RowSource, int, int, Compression], RecordsObject]:
    def built(source: RowSource, first: int, last: int, how: Compression) -> RecordsObject:
        return replace(build(source, first, last, how), refers_back=None, frames=())

    return built


def test_bundles_sealed_before_refers_back_are_all_read(
    journal: SqliteJournal,
    store: S3ArchiveStore,
    signer: Signer,
    policy: SealPolicy,
    clock: FixedClock,
    tmp_path: Path,
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    """An archive whose manifests have no refers_back verifies and exports in full history."""
    from archive.verify import verify_stream

    monkeypatch.setattr(seal_build, "build_range", _without_refers_back(seal_build.build_range))
    source = _seal_all(journal, store, signer, policy, clock)
    monkeypatch.undo()
    keys = {signer.public.key_id: signer.public}
    report = verify_stream(store, policy.layout, keys)
    assert report.findings == []
    blobs = ArchiveBlobs(store, policy.layout)
    result = run("html", tmp_path / "out", source=source, blobs=blobs, filters=FILTERS)
    assert source.store.opened == ["2", "4", "5", "6"]  # type: ignore[attr-defined]
    assert result.records_read == 9
    assert "Offer at 102 revised" in _text(tmp_path / "out")


class EveryBundle(ArchiveBundleSource):
    """The same archive read in full, as before ``refers_back``: no bundle is ruled out."""

    def read_bundles(
        self,
        first: int | None,
        last: int | None,
        allow_unverified: bool,
        select: Callable[[dict[str, object]], bool] | None = None,
    ) -> Iterator[BundleRecords]:
        return super().read_bundles(first, last, allow_unverified, None)


_DIRECTORY = frozenset({"channels.json", "groups.json", "mpims.json", "dms.json", "users.json"})


def _files(out: Path, result: object) -> dict[str, bytes]:
    """The export's files but custody; a Slack zip's members but its member directory."""
    skip = {result.manifest, result.signature}
    found: dict[str, bytes] = {}
    for path in sorted(p for p in out.rglob("*") if p.is_file() and p not in skip):
        name = path.relative_to(out).as_posix()
        if path.suffix != ".zip":
            found[name] = path.read_bytes()
            continue
        with zipfile.ZipFile(path) as archive:
            for member in archive.namelist():
                if member not in _DIRECTORY:
                    found[f"{name}/{member}"] = archive.read(member)
    return found


@pytest.mark.parametrize("fmt", ["rsmf", "html", "eml", "slack", "csv"])
def test_skipping_by_refers_back_changes_no_exported_message(
    fmt: str,
    journal: SqliteJournal,
    store: S3ArchiveStore,
    signer: Signer,
    policy: SealPolicy,
    clock: FixedClock,
    tmp_path: Path,
) -> None:
    """Every folding format writes the same messages as when it read every later bundle.

    (A Slack export's member lists name whoever posted in the bundles read, in range or not.)
    """
    source = _seal_all(journal, store, signer, policy, clock)
    blobs = ArchiveBlobs(store, policy.layout)
    chosen = run(fmt, tmp_path / "chosen", source=source, blobs=blobs, filters=FILTERS)
    every = EveryBundle(store, policy.layout, source.keys)
    full = run(fmt, tmp_path / "full", source=every, blobs=blobs, filters=FILTERS)
    assert chosen.records_read < full.records_read
    files = _files(tmp_path / "chosen", chosen)
    assert len(files) > 1 and files == _files(tmp_path / "full", full)
