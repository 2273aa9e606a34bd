"""A hung S3 (accepts connections, never answers) fails fast as store-unavailable."""

from __future__ import annotations

import socket
import threading
from collections.abc import Iterator
from concurrent.futures import ThreadPoolExecutor

import pytest

from archive.clock import FixedClock
from archive.errors import StoreUnavailableError
from archive.journal.sqlite import SqliteJournal
from archive.keys import Signer
from archive.schedule import SealJob
from archive.seal import SealPolicy, seal
from archive.store.s3 import S3ArchiveStore, make_client
from chatkeeper.settings import load_settings
from tests.factories import slack_message

WATCHDOG_SECONDS = 30  # the default read timeout alone was 60 s per attempt


@pytest.fixture
def hung_endpoint() -> Iterator[str]:
    """A loopback TCP server on an ephemeral port that accepts and never answers."""
    server = socket.socket()
    server.bind(("127.0.0.1", 0))
    server.listen(16)
    held: list[socket.socket] = []
    done = threading.Event()

    def accept() -> None:
        server.settimeout(0.1)
        while not done.is_set():
            try:
                held.append(server.accept()[0])
            except TimeoutError:
                continue
            except OSError:
                return

    thread = threading.Thread(target=accept, daemon=True)
    thread.start()
    yield f"http://127.0.0.1:{server.getsockname()[1]}"
    done.set()
    thread.join(5)
    for conn in held:
        conn.close()
    server.close()


def _hung_store(endpoint: str) -> S3ArchiveStore:
    settings = load_settings(
        env={
            "CHATKEEPER_S3_ENDPOINT": endpoint,
            "CHATKEEPER_S3_READ_TIMEOUT_SECONDS": "0.3",
            "CHATKEEPER_S3_CONNECT_TIMEOUT_SECONDS": "0.3",
            "CHATKEEPER_S3_MAX_ATTEMPTS": "1",
        }
    )
    s3 = settings.s3
    client = make_client(
        s3.endpoint,
        "ak",
        "sk",
        connect_timeout=s3.connect_timeout_seconds,
        read_timeout=s3.read_timeout_seconds,
        max_attempts=s3.max_attempts,
    )
    return S3ArchiveStore(client, "bucket")


def test_seal_against_hung_s3_is_store_unavailable(
    hung_endpoint: str,
    journal: SqliteJournal,
    signer: Signer,
    policy: SealPolicy,
    clock: FixedClock,
) -> None:
    """seal() raises StoreUnavailableError after the read timeout instead of hanging."""
    journal.append([slack_message(1)])
    store = _hung_store(hung_endpoint)
    with ThreadPoolExecutor(1) as pool:
        future = pool.submit(seal, journal, store, signer, policy, clock)
        with pytest.raises(StoreUnavailableError, match="Read timeout"):
            future.result(timeout=WATCHDOG_SECONDS)
    assert journal.stats("test").unsealed == 1


def test_seal_job_backs_off_on_hung_s3(
    hung_endpoint: str,
    journal: SqliteJournal,
    signer: Signer,
    policy: SealPolicy,
    clock: FixedClock,
) -> None:
    """The scheduled job counts the failure and waits before trying the hung store again."""
    journal.append([slack_message(1)])
    job = SealJob(journal, _hung_store(hung_endpoint), signer, policy, clock)
    with ThreadPoolExecutor(1) as pool:
        assert pool.submit(job).result(timeout=WATCHDOG_SECONDS) is None
        assert job.failures == 1 and job.not_before is not None
        assert job.not_before > clock.now()
        assert pool.submit(job).result(timeout=WATCHDOG_SECONDS) is None  # backing off
    assert job.failures == 1
