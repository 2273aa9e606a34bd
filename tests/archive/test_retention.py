"""Retention by policy against the real SeaweedFS: classes, retain-until, extension."""

from __future__ import annotations

from dataclasses import replace
from datetime import timedelta
from pathlib import Path

import pytest
from click.testing import CliRunner

from archive.bundle import parse_manifest
from archive.clock import FixedClock
from archive.codec import parse_time
from archive.errors import ConfigError, ObjectLockError
from archive.holds import Officer
from archive.journal.sqlite import SqliteJournal
from archive.keys import Signer
from archive.retention import extend_retention
from archive.retention_class import classify, parse_rule
from archive.seal import SealPolicy, seal
from archive.store.local_s3 import LocalS3Endpoint
from archive.store.s3 import S3ArchiveStore
from archive.verify import verify_stream
from chatkeeper.cli import cli
from tests.factories import slack_message

RULES = ("slack:T0001:CDESK=6y", "slack=3y", "slack:T0001:CBOARD=10y")


def _manifest(store: S3ArchiveStore, policy: SealPolicy, number: int) -> dict:  # type: ignore[type-arg]
    key = policy.layout.manifest_key(number)
    version = next(v for v in store.versions(key) if v.key == key)
    return parse_manifest(store.get(key, version.version_id))


def test_most_specific_rule_chooses_the_class() -> None:
    """A conversation rule beats a platform rule; no match falls back to the default."""
    rules = tuple(parse_rule(r) for r in RULES)
    assert classify(rules, 2557, "slack:T0001:CDESK").rule == "slack:T0001:CDESK=6y"
    assert classify(rules, 2557, "slack:T0001:CDESK").period == timedelta(days=2192)
    assert classify(rules, 2557, "slack:T0001:CGENERAL").name == "3y"
    assert classify(rules, 2557, "telegram:42:-100").rule == "default"
    with pytest.raises(ConfigError, match="PATTERN=PERIOD"):
        parse_rule("slack")
    with pytest.raises(ConfigError, match="period"):
        parse_rule("slack=6 years")


def test_sealing_groups_records_by_retention_class(
    journal: SqliteJournal,
    store: S3ArchiveStore,
    signer: Signer,
    policy: SealPolicy,
    clock: FixedClock,
) -> None:
    """Desk, general and board records become bundles whose objects are locked until their
    class's retain-until, and whose manifests name the class and the rule."""
    rules = tuple(parse_rule(r) for r in RULES)
    classed = replace(policy, retention_rules=rules, max_records=100)
    journal.append([slack_message(i, channel="CDESK") for i in range(3)])
    journal.append([slack_message(10 + i, channel="CGENERAL") for i in range(4)])
    journal.append([slack_message(20 + i, channel="CBOARD") for i in range(2)])
    journal.append([slack_message(30, channel="CDESK")])
    report = seal(journal, store, signer, classed, clock)
    assert [b.record_count for b in report.bundles] == [3, 4, 2, 1]
    expected = [("6y", 2192), ("3y", 1096), ("10y", 3653), ("6y", 2192)]
    for row, (name, days) in zip(report.bundles, expected, strict=True):
        doc = _manifest(store, classed, row.number)
        assert doc["retention"]["class"] == name
        until = parse_time(doc["retention"]["retain_until"])
        assert until == (row.created_at + timedelta(days=days)).replace(microsecond=0)
        for key in (
            classed.layout.records_key(row.number),
            classed.layout.manifest_key(row.number),
        ):
            version = next(v for v in store.versions(key) if v.key == key)
            locked = store.retention(key, version.version_id)
            assert locked is not None and locked.retain_until == until
    assert _manifest(store, classed, 2)["retention"]["rule"] == "slack=3y"
    assert verify_stream(store, classed.layout, {signer.public.key_id: signer.public}).ok


def test_rule_below_the_minimum_refuses_to_seal(
    journal: SqliteJournal,
    store: S3ArchiveStore,
    signer: Signer,
    policy: SealPolicy,
    clock: FixedClock,
) -> None:
    """Fail closed: a retention rule shorter than min_retention_days stops sealing."""
    short = replace(
        policy, min_retention_days=30, retention_days=30, retention_rules=(parse_rule("slack=10d"),)
    )
    journal.append([slack_message(1)])
    with pytest.raises(ObjectLockError, match="slack=10d"):
        seal(journal, store, signer, short, clock)


def test_extension_lengthens_never_shortens_and_is_sealed(
    journal: SqliteJournal,
    store: S3ArchiveStore,
    signer: Signer,
    policy: SealPolicy,
    clock: FixedClock,
) -> None:
    """extend moves every object of a bundle to the new date, leaves longer locks alone,
    and seals a retention_extended record naming the officer; verify stays intact."""
    journal.append([slack_message(i) for i in range(5)])
    seal(journal, store, signer, policy, clock)
    later = clock.now() + timedelta(days=3)
    who = Officer("officer-3", clock.now())
    result = extend_retention(journal, store, signer, policy, [1], later, who, clock)
    assert (result.objects, result.unchanged) == (2, 0)
    key = policy.layout.records_key(1)
    version = next(v for v in store.versions(key) if v.key == key)
    locked = store.retention(key, version.version_id)
    assert locked is not None and locked.retain_until == later.replace(microsecond=0)
    again = extend_retention(
        journal, store, signer, policy, [1], later - timedelta(days=1), who, clock
    )
    assert (again.objects, again.unchanged) == (0, 2)
    report = verify_stream(store, policy.layout, {signer.public.key_id: signer.public})
    assert report.ok, report.findings
    extensions = [e["payload"] for e in report.events if e["kind"] == "retention_extended"]
    assert extensions[0]["by"] == "officer-3" and extensions[0]["bundles"] == [1]


def test_retention_rules_setting_and_cli_extend(
    tmp_path: Path, s3_endpoint: LocalS3Endpoint, bucket: str
) -> None:
    """archive.retention_rules classes bundles through the CLI; retention extend reports."""
    env = {
        "CHATKEEPER_HOME": str(tmp_path / "home"),
        "CHATKEEPER_S3_ENDPOINT": s3_endpoint.url,
        "CHATKEEPER_S3_BUCKET": bucket,
        "CHATKEEPER_S3_ACCESS_KEY": s3_endpoint.archiver.access_key,
        "CHATKEEPER_S3_SECRET_KEY": s3_endpoint.archiver.secret_key,
        "CHATKEEPER_ARCHIVE_RETENTION_DAYS": "1",
        "CHATKEEPER_ARCHIVE_MIN_RETENTION_DAYS": "1",
        "CHATKEEPER_ARCHIVE_RETENTION_RULES": "slack:T0001:CDESK=2d",
    }
    with SqliteJournal(Path(env["CHATKEEPER_HOME"]) / "journal.db") as journal:
        journal.append([slack_message(1, channel="CDESK"), slack_message(2, channel="COTHER")])
    sealed = CliRunner().invoke(cli, ["seal"], env=env)
    assert sealed.exit_code == 0 and "sealed bundle 2: 1 records" in sealed.output
    extended = CliRunner().invoke(
        cli, ["retention", "extend", "--bundle", "2", "--until", "2030-01-01"], env=env
    )
    assert extended.exit_code == 0, extended.output
    assert "2 objects moved" in extended.output
    bad = CliRunner().invoke(cli, ["seal"], env={**env, "CHATKEEPER_ARCHIVE_RETENTION_RULES": "x"})
    assert bad.exit_code == 2 and "PATTERN=PERIOD" in bad.output
