"""verify --deep compares every stored blob with the size its platform declared."""

from __future__ import annotations

import hashlib
import io
import secrets
from dataclasses import replace
from datetime import timedelta

import pytest

from archive.attachments import attachment_record, store_blob
from archive.blob_check import EMPTY_SHA256
from archive.bundle import Layout
from archive.clock import FixedClock
from archive.journal.sqlite import SqliteJournal
from archive.keys import Signer
from archive.model import Attachment, AttachmentState, Record
from archive.seal import SealPolicy, seal
from archive.store.local_s3 import LocalS3
from archive.store.port import Retention
from archive.store.s3 import S3ArchiveStore, make_client
from archive.verify import verify_stream
from tests.factories import slack_message

DATA = b"%PDF-1.7 " + bytes(range(256)) * 20


@pytest.fixture(scope="module")
def shared_store(local_s3: LocalS3) -> S3ArchiveStore:
    """One locked bucket for the module (SeaweedFS has few volumes); each test seals its own stream."""
    name = f"test-{secrets.token_hex(6)}"
    local_s3.ensure_bucket(name, mode="COMPLIANCE", days=1)
    assert local_s3.endpoint is not None
    creds = local_s3.endpoint.archiver
    return S3ArchiveStore(
        make_client(local_s3.endpoint.url, creds.access_key, creds.secret_key), name
    )


@pytest.fixture
def store(shared_store: S3ArchiveStore) -> S3ArchiveStore:
    """The module's bucket (overrides the per-test bucket of tests/conftest.py)."""
    return shared_store


@pytest.fixture
def policy(policy: SealPolicy) -> SealPolicy:
    """The default sealing policy on a stream of this test alone."""
    return replace(policy, layout=Layout(stream=f"blob-check-{secrets.token_hex(4)}"))


def _put(store: S3ArchiveStore, policy: SealPolicy, clock: FixedClock, data: bytes) -> str:
    digest = hashlib.sha256(data).hexdigest()
    until = clock.now().replace(microsecond=0) + timedelta(days=2)
    store_blob(
        store,
        policy.layout,
        io.BytesIO(data),
        size=len(data),
        sha256_hex=digest,
        retention=Retention("COMPLIANCE", until),
    )
    return digest


def _shared(declared: int) -> Record:
    pending = Attachment(
        name="deck.pdf", state=AttachmentState.PENDING, size=declared, ref="F0DECK001"
    )
    return slack_message(1, attachments=(pending,))


def _stored(
    store: S3ArchiveStore,
    policy: SealPolicy,
    clock: FixedClock,
    original: Record,
    data: bytes,
    **kw: object,
) -> Record:
    digest = _put(store, policy, clock, data)
    attachment = Attachment(
        name="deck.pdf",
        state=AttachmentState.STORED,
        sha256=digest,
        size=len(data),
        ref="F0DECK001",
    )
    return attachment_record(original, attachment, clock.now(), **kw)  # type: ignore[arg-type]


def _findings(store: S3ArchiveStore, signer: Signer, policy: SealPolicy, deep: bool) -> list[str]:
    keys = {signer.public.key_id: signer.public}
    report = verify_stream(store, policy.layout, keys, deep=deep)
    return [f"{f.check}:{f.message}" for f in report.findings]


def test_empty_blob_of_a_declared_file_is_an_integrity_failure(
    journal: SqliteJournal,
    store: S3ArchiveStore,
    signer: Signer,
    policy: SealPolicy,
    clock: FixedClock,
) -> None:
    """An archive written before the fix (empty blob, stored) fails verify --deep, not plain verify."""
    original = _shared(len(DATA))
    journal.append([original, _stored(store, policy, clock, original, b"")])
    seal(journal, store, signer, policy, clock)
    assert _findings(store, signer, policy, deep=False) == []
    (finding,) = _findings(store, signer, policy, deep=True)
    assert finding.startswith("blob-size:attachment F0DECK001 of record " + original.key)
    assert f"an empty blob ({EMPTY_SHA256})" in finding
    assert f"declared {len(DATA)} bytes" in finding


def test_blob_of_another_size_than_declared_is_reported(
    journal: SqliteJournal,
    store: S3ArchiveStore,
    signer: Signer,
    policy: SealPolicy,
    clock: FixedClock,
) -> None:
    """A non-empty blob whose size differs from declared_size in attachment_stored is reported."""
    original = slack_message(2)  # the sharing record carries no size: attachment_stored does
    stored = _stored(store, policy, clock, original, DATA[:100], declared=len(DATA))
    journal.append([original, stored])
    seal(journal, store, signer, policy, clock)
    (finding,) = _findings(store, signer, policy, deep=True)
    assert "a 100-byte blob" in finding and f"declared {len(DATA)} bytes" in finding


def test_repair_record_in_a_later_bundle_settles_the_empty_copy(
    journal: SqliteJournal,
    store: S3ArchiveStore,
    signer: Signer,
    policy: SealPolicy,
    clock: FixedClock,
) -> None:
    """A later attachment_stored with the declared size (a repair) makes the stream intact again."""
    original = _shared(len(DATA))
    bad = _stored(store, policy, clock, original, b"")
    journal.append([original, bad])
    seal(journal, store, signer, policy, clock)
    repair = _stored(store, policy, clock, original, DATA, declared=len(DATA), repairs=bad.key)
    assert repair.key != bad.key
    journal.append([repair])
    seal(journal, store, signer, policy, clock)
    assert _findings(store, signer, policy, deep=True) == []


def test_intact_declared_sizes_pass(
    journal: SqliteJournal,
    store: S3ArchiveStore,
    signer: Signer,
    policy: SealPolicy,
    clock: FixedClock,
) -> None:
    """A blob of exactly the declared size, and a truly empty declared file, are intact."""
    original = _shared(len(DATA))
    empty = slack_message(
        3,
        attachments=(
            Attachment(name="e.txt", state=AttachmentState.PENDING, size=0, ref="F0EMPTY01"),
        ),
    )
    empty_stored = attachment_record(
        empty,
        Attachment(
            name="e.txt",
            state=AttachmentState.STORED,
            sha256=_put(store, policy, clock, b""),
            size=0,
            ref="F0EMPTY01",
        ),
        clock.now(),
        declared=0,
    )
    journal.append([original, _stored(store, policy, clock, original, DATA), empty, empty_stored])
    seal(journal, store, signer, policy, clock)
    assert _findings(store, signer, policy, deep=True) == []
