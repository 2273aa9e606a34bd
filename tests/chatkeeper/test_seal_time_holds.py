"""serve's seal-time hold step (``build.seal_time_holds``) as a ``SealJob.after_seal`` hook.

The job's hooks run after its lease is released, so the step takes the lease again for the
hold records it seals; when another sealer holds it, the step logs and the seal stands.
"""

from __future__ import annotations

from click.testing import CliRunner
from structlog.testing import capture_logs

from archive.clock import SystemClock
from archive.journal.sqlite import SqliteJournal
from archive.schedule import LEASE, SealJob
from archive.seal import SealReport
from archive.store.local_s3 import LocalS3Endpoint
from archive.store.s3 import S3ArchiveStore, make_client
from chatkeeper import build
from chatkeeper.cli import cli
from chatkeeper.settings import load_settings
from tests.factories import slack_message


def _held(auditor: S3ArchiveStore, key: str) -> bool:
    version = next(v for v in auditor.versions(key) if v.key == key)
    return auditor.legal_hold(key, version.version_id)


def test_seal_time_holds_take_the_lease_after_the_seal(
    env: dict[str, str], s3_endpoint: LocalS3Endpoint, bucket: str
) -> None:
    """The hold step holds a new in-scope bundle outside the job's lease; a busy lease is logged."""
    env = env | {
        "CHATKEEPER_S3_LEGAL_ACCESS_KEY": s3_endpoint.legal.access_key,
        "CHATKEEPER_S3_LEGAL_SECRET_KEY": s3_endpoint.legal.secret_key,
    }
    created = CliRunner().invoke(cli, ["hold", "create", "m1", "--conversation", "C7"], env=env)
    assert created.exit_code == 0, created.output
    settings = load_settings(env=env)
    creds = s3_endpoint.role("auditor")
    auditor = S3ArchiveStore(
        make_client(s3_endpoint.url, creds.access_key, creds.secret_key), bucket
    )
    layout = build.layout(settings)
    with SqliteJournal(settings.journal_path) as journal, build.open_store(settings) as store:
        hold_step = build.seal_time_holds(settings, journal, store)
        clock = SystemClock()
        policy = build.seal_policy(settings)
        job = SealJob(journal, store, build.signer(settings), policy, clock, after_seal=[hold_step])
        journal.append([slack_message(1, channel="C7")])
        report = job()
        assert report is not None and [b.number for b in report.bundles] == [2]
        assert _held(auditor, layout.records_key(2))  # bundle 3 holds the hold records
        assert journal.stats(settings.archive.stream).unsealed == 0

        def other_replica_seals(_report: SealReport) -> None:
            assert journal.acquire_lease(LEASE, "replica-b", clock.now(), 60)

        busy = SealJob(
            journal, store, build.signer(settings), policy, clock,
            after_seal=[other_replica_seals, hold_step],
        )  # fmt: skip
        journal.append([slack_message(2, channel="C7")])
        with capture_logs() as logs:
            report = busy()
        assert report is not None and [b.number for b in report.bundles] == [4]
        assert busy.failures == 0 and not _held(auditor, layout.records_key(4))
        assert [e["event"] for e in logs if e["event"].startswith("hold.")] == [
            "hold.seal_time_failed"
        ]
