"""Incremental verification: new bundles and their link to a verified, signed state."""

from __future__ import annotations

import json
from pathlib import Path

import pytest

from archive.clock import FixedClock
from archive.errors import IntegrityError
from archive.journal.sqlite import SqliteJournal
from archive.keys import Signer, load_or_create_signer
from archive.seal import SealPolicy, seal
from archive.store.s3 import S3ArchiveStore
from archive.verify import verify_stream
from archive.verify_incremental import state_after, verify_since
from archive.verify_state import VerifiedState, read_state, write_state
from tests.factories import slack_message


def _state(
    journal: SqliteJournal,
    store: S3ArchiveStore,
    signer: Signer,
    policy: SealPolicy,
    clock: FixedClock,
) -> VerifiedState:
    """Three sealed bundles, verified in full; the state that verification leaves."""
    journal.append([slack_message(i) for i in range(120)])
    seal(journal, store, signer, policy, clock)
    report = verify_stream(store, policy.layout, {signer.public.key_id: signer.public})
    state = state_after(report, None, clock.now())
    assert state is not None and state.last_bundle == 3 and state.records == 120
    return state


def test_incremental_checks_only_the_new_bundles(
    journal: SqliteJournal,
    store: S3ArchiveStore,
    signer: Signer,
    policy: SealPolicy,
    clock: FixedClock,
) -> None:
    """After two new bundles, incremental verify checks those two and links them to the state."""
    state = _state(journal, store, signer, policy, clock)
    journal.append([slack_message(i) for i in range(120, 200)])
    seal(journal, store, signer, policy, clock)
    report = verify_since(store, policy.layout, state, expected_last=5)
    assert report.ok, report.findings
    assert (report.bundles, report.records, report.last_bundle) == (2, 80, 5)
    after = state_after(report, state, clock.now())
    assert after is not None and (after.last_bundle, after.records) == (5, 200)
    nothing_new = verify_since(store, policy.layout, after, expected_last=5)
    assert nothing_new.ok and nothing_new.bundles == 0


def test_incremental_finds_a_changed_anchor_and_a_missing_bundle(
    journal: SqliteJournal,
    store: S3ArchiveStore,
    signer: Signer,
    policy: SealPolicy,
    clock: FixedClock,
) -> None:
    """A state whose last manifest hash differs, or a journal expecting more bundles, fails."""
    state = _state(journal, store, signer, policy, clock)
    forged = VerifiedState(**{**state.__dict__, "last_manifest_sha256": "00" * 32})
    report = verify_since(store, policy.layout, forged)
    assert not report.ok
    assert any(f.check == "manifest" and f.bundle == 3 for f in report.findings)
    missing = verify_since(store, policy.layout, state, expected_last=4)
    assert any(f.check == "gap" and f.bundle == 4 for f in missing.findings)


def test_state_is_signed_and_refused_when_altered(tmp_path: Path, signer: Signer) -> None:
    """The verified state reads back under the verifier's key; an edited or foreign one is refused."""
    from datetime import UTC, datetime

    verifier = load_or_create_signer(tmp_path / "verify-key")
    state = VerifiedState(
        "test",
        3,
        "ab" * 32,
        120,
        120,
        datetime(2026, 11, 2, tzinfo=UTC),
        {signer.public.key_id: signer.public},
    )
    path = tmp_path / "state.json"
    write_state(path, state, verifier)
    assert read_state(path, verifier.public, "test") == state
    doc = json.loads(path.read_bytes())
    doc["last_bundle"] = 9
    path.write_text(json.dumps(doc))
    with pytest.raises(IntegrityError, match="not trusted"):
        read_state(path, verifier.public, "test")
    write_state(path, state, signer)
    with pytest.raises(IntegrityError, match="not trusted"):
        read_state(path, verifier.public, "test")
