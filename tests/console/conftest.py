"""A running console over a real sealed archive (SeaweedFS, SQLite journal), on an ephemeral port."""

from __future__ import annotations

import re
import secrets
from collections.abc import AsyncIterator, Iterator
from dataclasses import dataclass, replace
from datetime import timedelta
from pathlib import Path

import pytest
from aiohttp import ClientSession
from aiohttp.test_utils import TestServer

from archive.bundle import Layout
from archive.clock import FixedClock, SystemClock
from archive.journal.sqlite import SqliteJournal
from archive.keys import Signer, load_or_create_signer
from archive.model import Kind, Record
from archive.read import read_bundles
from archive.seal import SealPolicy, seal
from archive.store.local_s3 import LocalS3, LocalS3Endpoint
from archive.store.port import Retention
from archive.store.s3 import S3ArchiveStore, make_client
from chatkeeper.search_export import MatchingRecords
from console.accounts import AccountStore
from console.app import build_console_app
from console.archive_view import ArchiveView
from console.audit import AuditTrail
from console.context import Console
from console.settings import ConsoleSettings
from search.indexer import update_index
from search.sqlite_index import SqliteSearchIndex
from supervision.policy import parse_policy
from supervision.queue import QueueStore
from supervision.runner import screen_sealed
from supervision.screen import Screener
from tests.exporters.export_fixtures import BLOBS, archive_records
from tests.factories import slack_message

PASSWORD = "correct horse battery staple"
ADMIN_PASSWORD = "admin password for the tests"
_CSRF = re.compile(r'name="csrf" value="([^"]+)"')


@dataclass
class Deployment:
    """The parts a console test looks at."""

    journal: SqliteJournal
    archiver: S3ArchiveStore
    reader: S3ArchiveStore
    signer: Signer
    policy: SealPolicy
    accounts: AccountStore
    console: Console

    def seal(self) -> None:
        """Seal what the journal holds (the officer actions the console captured)."""
        seal(self.journal, self.archiver, self.signer, self.policy, SystemClock())

    def sealed_actions(self) -> list[Record]:
        """The officer_action records in the sealed, verified bundles."""
        return self.sealed(Kind.OFFICER_ACTION)

    def sealed(self, kind: Kind) -> list[Record]:
        """The records of one kind in the sealed, verified bundles."""
        keys = {self.signer.public.key_id: self.signer.public}
        found = []
        for _, records in read_bundles(self.reader, self.policy.layout, keys):
            found += [r for r in records if r.kind is kind]
        return found

    def screen(self, queue: QueueStore) -> None:
        """Screen the sealed bundles not screened yet into the review queue (as serve does)."""
        keys = {self.signer.public.key_id: self.signer.public}
        screen_sealed(self.reader, self.policy.layout, keys, queue, REVIEW_SCREENER)


#: Two conversations under supervision; the flagged message carries markup to escape.
REVIEW_CHANNEL, OTHER_CHANNEL = "C0REVIEW01", "C0REVIEW02"
HOSTILE = "<script>alert(1)</script> let's move this to WhatsApp, <b>easier</b>"
REVIEW_MESSAGES = [
    (REVIEW_CHANNEL, "Morning, the allocation file is in the shared drive"),
    (REVIEW_CHANNEL, "Client wants an answer today"),
    (REVIEW_CHANNEL, HOSTILE),  # flagged: off_channel/whatsapp
    (REVIEW_CHANNEL, "noted, talk later"),
    (OTHER_CHANNEL, "Guaranteed returns, zero risk"),  # flagged: promissory
]
REVIEW_SCREENER = Screener(
    [
        parse_policy(
            {
                "name": "desk",
                "version": "1",
                "lexicons": ["off_channel", "promissory"],
                "sampling": {"rate": 0.0, "seed": "s"},
                "review_within_days": 1,
                "scope": {"conversations": [REVIEW_CHANNEL, OTHER_CHANNEL]},
            }
        )
    ]
)


@pytest.fixture
def review_queue(deployment: Deployment, tmp_path: Path) -> Iterator[QueueStore]:
    """The review messages sealed and screened into a queue the console reviews."""
    deployment.journal.append(
        [
            slack_message(9000 + n, channel=channel, text=text)
            for n, (channel, text) in enumerate(REVIEW_MESSAGES)
        ]
    )
    deployment.seal()
    queue = QueueStore(tmp_path / "supervision.db")
    deployment.screen(queue)
    deployment.console.queue = queue
    yield queue
    queue.close()


@pytest.fixture(scope="session")
def console_bucket(local_s3: LocalS3) -> str:
    """One locked bucket for the console tests; each test gets its own key prefix in it
    (SeaweedFS allocates volumes per bucket, and a test session can only have so many)."""
    name = f"console-{secrets.token_hex(6)}"
    local_s3.ensure_bucket(name, mode="COMPLIANCE", days=1)
    return name


@pytest.fixture
def deployment(
    journal: SqliteJournal,
    s3_endpoint: LocalS3Endpoint,
    console_bucket: str,
    signer: Signer,
    policy: SealPolicy,
    clock: FixedClock,
    tmp_path: Path,
) -> Iterator[Deployment]:
    """The sample archive sealed in bundles of 10, read by the console with the auditor identity."""
    bucket = console_bucket
    archiver = s3_endpoint.archiver
    store = S3ArchiveStore(
        make_client(s3_endpoint.url, archiver.access_key, archiver.secret_key), bucket
    )
    layout = Layout(stream=policy.layout.stream, prefix=f"t-{secrets.token_hex(8)}/")
    policy = replace(policy, max_records=10, layout=layout)
    retention = Retention("COMPLIANCE", clock.now().replace(microsecond=0) + timedelta(days=2))
    for sha, data in BLOBS.items():
        store.put(policy.layout.blob_key(sha), data, sha256_hex=sha, retention=retention)
    journal.append([replace(r, seq=None) for r in archive_records()])
    seal(journal, store, signer, policy, clock)
    creds = s3_endpoint.auditor
    reader = S3ArchiveStore(
        make_client(s3_endpoint.url, creds.access_key, creds.secret_key), bucket
    )
    settings = ConsoleSettings(lockout_failures=3, lockout_minutes=15)
    accounts = AccountStore(tmp_path / "console.db", SystemClock(), lockout_failures=3)
    accounts.add_user("olivia", "officer", PASSWORD)
    accounts.add_user("adam", "admin", ADMIN_PASSWORD)
    keys = {signer.public.key_id: signer.public}
    index = SqliteSearchIndex(tmp_path / "search.db", policy.layout.stream)
    update_index(index, reader, policy.layout, keys)
    console = Console(
        settings=settings,
        accounts=accounts,
        view=ArchiveView(reader, policy.layout, keys, "trusted keys (test)"),
        audit=AuditTrail(journal, SystemClock()),
        clock=SystemClock(),
        export_signer=load_or_create_signer(tmp_path / "keys" / "export"),
        generator="chatkeeper test",
        version="test",
        temp_dir=tmp_path,
        search=index,
        matching=MatchingRecords,
    )
    yield Deployment(journal, store, reader, signer, policy, accounts, console)
    accounts.close()
    index.close()


@pytest.fixture
async def server(deployment: Deployment) -> AsyncIterator[TestServer]:
    """The console application on 127.0.0.1, ephemeral port."""
    test_server = TestServer(build_console_app(deployment.console), host="127.0.0.1", port=0)
    await test_server.start_server()
    yield test_server
    await test_server.close()


def csrf_of(page: str) -> str:
    match = _CSRF.search(page)
    assert match is not None, "the page has no CSRF field"
    return match.group(1)


async def sign_in(http: ClientSession, base: str, name: str, password: str) -> int:
    """Sign in through the form, as a browser does; the HTTP status of the answer."""
    async with http.get(f"{base}/login") as page:
        token = csrf_of(await page.text())
    async with http.post(
        f"{base}/login",
        data={"csrf": token, "name": name, "password": password},
        allow_redirects=False,
    ) as answer:
        return answer.status
