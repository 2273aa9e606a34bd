"""verify computes each manifest's summary again from its sealed lines (``archive.summary``):
a signed manifest whose summary leaves records out is reported, not trusted."""

from __future__ import annotations

import copy
from collections.abc import Callable
from dataclasses import replace
from typing import Any

import pytest

from archive.bundle import parse_manifest, sign_manifest
from archive.clock import FixedClock
from archive.codec import sealed_line
from archive.journal.sqlite import SqliteJournal
from archive.keys import Signer
from archive.references import REFERRING_KINDS
from archive.seal import SealPolicy, seal
from archive.store.s3 import S3ArchiveStore
from archive.summary import row_of_line
from archive.verify import check_records, verify_stream
from tests.archive.test_frames import SMALL, _manifest
from tests.archive.test_records_object import COUNT, _rows
from tests.archive.test_verify import _other_store, copy_stream


def test_each_sealed_line_gives_back_the_journal_row_it_was_sealed_from(
    journal: SqliteJournal,
) -> None:
    """The columns the seal summed (time, conversation, blobs, kind) read from the record's
    JSON are the journal's own, for messages, edits, reactions and stored attachments."""
    rows = _rows(journal)
    read = [row_of_line(sealed_line(seq, body)) for seq, body, *_ in rows]
    assert [row[:1] + row[2:] for row in read] == [row[:1] + row[2:] for row in rows]
    # the body only where the summary reads it: the rows that refer to earlier messages
    assert [row[1] for row in read] == [
        row[1] if row[5] in REFERRING_KINDS else b"" for row in rows
    ]
    assert (
        sum(1 for row in read if row[1]) == sum(1 for row in rows if row[5] in REFERRING_KINDS) > 0
    )
    assert sum(1 for row in rows if row[4]) == len(range(7, COUNT, 301))


def _sealed(
    journal: SqliteJournal,
    store: S3ArchiveStore,
    signer: Signer,
    policy: SealPolicy,
    clock: FixedClock,
) -> tuple[SealPolicy, dict[str, Any]]:
    policy = replace(policy, max_records=10_000, frame_bytes=SMALL)
    _rows(journal, attachments=False)  # no blobs to lock
    seal(journal, store, signer, policy, clock)
    return policy, _manifest(store, policy, 1)


def _narrow(doc: dict[str, Any]) -> None:
    doc["first_occurred_at"] = doc["last_occurred_at"]


def _drop_conversation(doc: dict[str, Any]) -> None:
    doc["conversations"] = doc["conversations"][1:]


def _drop_bundle_span(doc: dict[str, Any]) -> None:
    doc["refers_back"].popitem()


def _empty_frame(doc: dict[str, Any]) -> None:
    doc["records"]["frames"][1]["refers_back"] = {}


def _add_blob(doc: dict[str, Any]) -> None:
    doc["blobs"] = [{"sha256": "ab" * 32, "key": "blobs/sha256/ab/" + "ab" * 32}]


def _add_event(doc: dict[str, Any]) -> None:
    doc["archive_events"] = [{"kind": "hold_changed", "payload": {"matter": "M-1"}}]


TAMPERINGS: dict[str, tuple[Callable[[dict[str, Any]], None], str]] = {
    "time range": (_narrow, "manifest time range differs from its records'"),
    "conversations": (_drop_conversation, "manifest conversations differ from its records'"),
    "refers_back": (_drop_bundle_span, "manifest refers_back differs from what its records"),
    "frame refers_back": (_empty_frame, "records frame 1 refers_back differs from its records'"),
    "blobs": (_add_blob, "manifest blobs differ from the attachments its records name"),
    "archive events": (_add_event, "manifest archive_events differ from its records'"),
}


@pytest.mark.parametrize("case", sorted(TAMPERINGS))
def test_a_summary_field_its_records_do_not_bear_out_is_a_problem(
    case: str,
    journal: SqliteJournal,
    store: S3ArchiveStore,
    signer: Signer,
    policy: SealPolicy,
    clock: FixedClock,
) -> None:
    """The sealed manifest's summary matches its three frames; each altered field is named,
    and only it."""
    policy, doc = _sealed(journal, store, signer, policy, clock)
    assert len(doc["records"]["frames"]) == 3
    assert all(frame["refers_back"] for frame in doc["records"]["frames"])
    intact = check_records(store, doc, summary=True)
    assert (intact.problems, intact.summary) == ((), ())
    edit, problem = TAMPERINGS[case]
    altered = copy.deepcopy(doc)
    edit(altered)
    result = check_records(store, altered, summary=True)
    assert result.problems == ()
    assert [p for p in result.summary if p.startswith(problem)] == list(result.summary)
    assert len(result.summary) == 1
    assert check_records(store, altered).summary == ()  # readers do not decode for it


def test_verify_reports_a_signed_manifest_that_leaves_a_conversation_out(
    journal: SqliteJournal,
    store: S3ArchiveStore,
    local_s3: object,
    signer: Signer,
    policy: SealPolicy,
    clock: FixedClock,
) -> None:
    """Signed by the trusted key (as a faulty seal would sign it), the manifest passes every
    other check; verify still reports the conversation a filtered export would skip."""
    policy, _ = _sealed(journal, store, signer, policy, clock)
    manifest = policy.layout.manifest_key(1)

    def resign(key: str, data: bytes) -> bytes:
        if key != manifest:
            return data
        doc = parse_manifest(data)
        doc.pop("signature")
        _drop_conversation(doc)
        return sign_manifest(doc, signer)

    copied = _other_store(store, local_s3)
    copy_stream(store, copied, resign, clock)
    keys = {signer.public.key_id: signer.public}
    findings = [
        (f.bundle, f.check, f.message) for f in verify_stream(copied, policy.layout, keys).findings
    ]
    assert (1, "summary", "manifest conversations differ from its records'") in findings
    assert not [f for f in findings if f[1] in ("manifest", "keys")]
    assert verify_stream(store, policy.layout, keys).ok
