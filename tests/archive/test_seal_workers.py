"""Worker processes that build records objects: what they import, how they fail, resuming."""

from __future__ import annotations

import os
import signal
import sys
from dataclasses import replace
from datetime import UTC, datetime
from pathlib import Path

import pytest

from archive.clock import FixedClock
from archive.errors import SealError
from archive.journal import BundleRow, BundleState
from archive.journal.sqlite import SqliteJournal
from archive.keys import Signer
from archive.seal import SealPolicy, seal
from archive.seal_build import Compression, ProcessBuilder
from archive.store.s3 import S3ArchiveStore
from archive.verify import verify_stream
from tests.archive.faults import FaultyStore
from tests.archive.seal_probes import FailingRows, ImportedModules, OddRows
from tests.factories import slack_message

MOMENT = datetime(2026, 1, 1, tzinfo=UTC)


def bundle(first: int, last: int) -> BundleRow:
    return BundleRow("test", 1, BundleState.OPEN, MOMENT, MOMENT, last - first + 1, first, last)


def worker_pids() -> list[int]:
    """This process's children that run the sealing worker module."""
    pids = []
    for entry in Path("/proc").iterdir():
        if not entry.name.isdigit():
            continue
        try:
            ppid = int((entry / "stat").read_text().rsplit(")", 1)[1].split()[1])
            command = (entry / "cmdline").read_bytes()
        except (OSError, IndexError, ValueError):
            continue
        if ppid == os.getpid() and b"archive.seal_build" in command:
            pids.append(int(entry.name))
    return pids


def test_workers_do_not_import_the_parent_main_module() -> None:
    """A worker is a fresh interpreter: it does not import this process's main module (pytest)."""
    assert "_pytest" in sys.modules
    builder = ProcessBuilder(
        ImportedModules(("_pytest", "chatkeeper.cli", "boto3")), Compression(3), 1
    )
    try:
        with pytest.raises(SealError, match=r"^imported: $"):
            builder.submit(bundle(1, 10)).result()
    finally:
        builder.close()


def test_a_foreign_error_in_a_worker_is_named_not_quoted() -> None:
    """A non-chatkeeper error in a worker comes back as a SealError naming its type only."""
    builder = ProcessBuilder(FailingRows("text of a message"), Compression(3), 1)
    try:
        with pytest.raises(SealError, match="ValueError") as raised:
            builder.submit(bundle(1, 10)).result()
        assert "text of a message" not in str(raised.value)
        with pytest.raises(SealError, match="ValueError"):  # the worker lives on
            builder.submit(bundle(11, 20)).result()
    finally:
        builder.close()


def test_our_error_that_cannot_travel_back_keeps_its_message() -> None:
    """Our own error that pickle cannot rebuild comes back as a SealError with its message."""
    builder = ProcessBuilder(OddRows(), Compression(3), 1)
    try:
        with pytest.raises(
            SealError, match=r"^OddError in a sealing worker: odd 3: bundle bounds$"
        ):
            builder.submit(bundle(1, 10)).result()
    finally:
        builder.close()


def test_a_killed_worker_is_a_seal_error(journal: SqliteJournal) -> None:
    """A worker killed before its build fails that build with a SealError, and close returns."""
    journal.append([slack_message(i) for i in range(5)])
    builder = ProcessBuilder(journal.row_source(), Compression(3), 1)
    try:
        (pid,) = builder.pids
        os.kill(pid, signal.SIGKILL)
        with pytest.raises(SealError, match="died"):
            builder.submit(bundle(1, 5)).result()
    finally:
        builder.close()
    assert worker_pids() == []


def test_seal_resumes_after_its_workers_are_killed(
    journal: SqliteJournal,
    store: S3ArchiveStore,
    signer: Signer,
    policy: SealPolicy,
    clock: FixedClock,
) -> None:
    """Workers killed mid-run fail the run; the next run seals every record once, verifiably."""
    records = [slack_message(i) for i in range(170)]
    journal.append(records)
    policy = replace(policy, build_workers=2, max_records=10)  # more bundles than in flight

    def kill_workers(key: str) -> None:
        if key.endswith("records.jsonl.zst"):
            for pid in worker_pids():
                os.kill(pid, signal.SIGKILL)

    with pytest.raises(SealError, match="died"):
        seal(journal, FaultyStore(store, kill_workers), signer, policy, clock)
    assert worker_pids() == []
    seal(journal, store, signer, policy, clock)
    assert [b.state for b in journal.bundles("test")] == [BundleState.SEALED] * 17
    verified = verify_stream(store, policy.layout, {signer.public.key_id: signer.public})
    assert verified.ok, verified.findings
    assert verified.records == 170
