"""The ArchiveStore port's fork contract, on the S3 adapter against the real SeaweedFS."""

from __future__ import annotations

import hashlib
import multiprocessing
from datetime import UTC, datetime, timedelta
from multiprocessing.queues import Queue

from archive.store import ArchiveStore, Retention


def _put(store: ArchiveStore, key: str, data: bytes) -> str:
    until = datetime.now(UTC).replace(microsecond=0) + timedelta(days=1)
    return store.put(
        key,
        data,
        sha256_hex=hashlib.sha256(data).hexdigest(),
        retention=Retention("COMPLIANCE", until),
    )


def _child(store: ArchiveStore, key: str, version: str, out: Queue[tuple[bytes, str]]) -> None:
    store.after_fork()
    read = store.get(key, version)
    written = _put(store, "contract/from-child", b"written by the child")
    out.put((read, written))


class TestArchiveStoreContract:
    def test_after_fork_child_reads_and_writes(self, store: ArchiveStore) -> None:
        """After ``after_fork`` a forked child reads and writes, and the parent's store still works."""
        version = _put(store, "contract/from-parent", b"written by the parent")
        fork = multiprocessing.get_context("fork")
        out: Queue[tuple[bytes, str]] = fork.Queue()
        child = fork.Process(target=_child, args=(store, "contract/from-parent", version, out))
        child.start()
        child.join(timeout=60)
        assert child.exitcode == 0
        read, written = out.get(timeout=5)
        assert read == b"written by the parent"
        assert store.get("contract/from-child", written) == b"written by the child"
        assert store.get("contract/from-parent", version) == b"written by the parent"
