"""Proof of one message: built from the real archive, checked offline, tampering refused."""

from __future__ import annotations

import base64
import json
from pathlib import Path

import pytest
from click.testing import CliRunner

from archive import merkle
from archive.journal.sqlite import SqliteJournal
from archive.keys import load_or_create_signer
from archive.proof import audit_path, tree_levels
from archive.store.local_s3 import LocalS3Endpoint
from chatkeeper.cli import cli
from tests.archive import proof_reference
from tests.factories import slack_message


@pytest.fixture
def env(tmp_path: Path, s3_endpoint: LocalS3Endpoint, bucket: str) -> dict[str, str]:
    """Settings pointing the CLI at the test bucket with the archiver's credentials."""
    return {
        "CHATKEEPER_HOME": str(tmp_path / "home"),
        "CHATKEEPER_S3_ENDPOINT": s3_endpoint.url,
        "CHATKEEPER_S3_BUCKET": bucket,
        "CHATKEEPER_S3_ACCESS_KEY": s3_endpoint.archiver.access_key,
        "CHATKEEPER_S3_SECRET_KEY": s3_endpoint.archiver.secret_key,
        "CHATKEEPER_ARCHIVE_RETENTION_DAYS": "1",
        "CHATKEEPER_ARCHIVE_MIN_RETENTION_DAYS": "1",
        "CHATKEEPER_ARCHIVE_BUNDLE_MAX_RECORDS": "40",
    }


def _seal(env: dict[str, str], records: list) -> None:  # type: ignore[type-arg]
    with SqliteJournal(Path(env["CHATKEEPER_HOME"]) / "journal.db") as journal:
        journal.append(records)
    result = CliRunner().invoke(cli, ["seal"], env=env)
    assert result.exit_code == 0, result.output


def _public_key(env: dict[str, str], tmp_path: Path, name: str = "pinned.pub.json") -> Path:
    path = tmp_path / name
    path.write_bytes(load_or_create_signer(Path(env["CHATKEEPER_HOME"]) / "keys").public.to_json())
    return path


def _reference_keys(path: Path) -> dict[str, bytes]:
    doc = json.loads(path.read_bytes())
    return {doc["key_id"]: base64.b64decode(doc["public_key"])}


def test_prove_by_message_id_verifies_offline_and_with_the_reference(
    env: dict[str, str], tmp_path: Path
) -> None:
    """prove writes a proof for a message in a middle bundle; verify-proof and the
    dependency-free reference verifier both accept it, with no access to the archive."""
    records = [slack_message(i) for i in range(100)]
    _seal(env, records)
    target = records[57]  # bundle 2 of 3
    out = tmp_path / "proof.json"
    proved = CliRunner().invoke(
        cli,
        [
            "prove",
            "--platform",
            "slack",
            "--conversation",
            target.conversation,
            "--message-id",
            target.message_id or "",
            "--out",
            str(out),
        ],
        env=env,
    )
    assert proved.exit_code == 0, proved.output
    proof = json.loads(out.read_bytes())
    assert proof["bundle"] == 2 and proof["record_key"] == target.key
    assert len(proof["chain"]) == 1  # bundle 3 links bundle 2 to the newest checkpoint
    key = _public_key(env, tmp_path)
    offline = {"CHATKEEPER_HOME": str(tmp_path / "elsewhere")}  # no store, no journal
    checked = CliRunner().invoke(
        cli, ["verify-proof", str(out), "--public-key", str(key)], env=offline
    )
    assert checked.exit_code == 0, checked.output
    assert "PROOF VALID" in checked.output and target.key in checked.output
    assert proof_reference.check(proof, _reference_keys(key)) is None


@pytest.mark.parametrize(
    "tamper",
    ["line", "audit_path", "manifest", "chain", "checkpoint"],
)
def test_tampered_proof_is_refused(env: dict[str, str], tmp_path: Path, tamper: str) -> None:
    """Changing the record, the path, a manifest, the chain or the checkpoint makes
    verify-proof exit 3 and the reference verifier report a problem."""
    records = [slack_message(i) for i in range(90)]
    _seal(env, records)
    out = tmp_path / "proof.json"
    result = CliRunner().invoke(
        cli, ["prove", "--record-key", records[3].key, "--out", str(out)], env=env
    )
    assert result.exit_code == 0, result.output
    proof = json.loads(out.read_bytes())
    if tamper == "line":
        line = base64.b64decode(proof["line"]).replace(b"revenue up 4%", b"revenue up 9%")
        proof["line"] = base64.b64encode(line).decode()
    elif tamper == "audit_path":
        proof["audit_path"][0] = "00" * 32
    elif tamper == "manifest":
        doc = json.loads(base64.b64decode(proof["manifest"]))
        doc["record_count"] += 0
        doc["created_at"] = "2020-01-01T00:00:00.000000Z"
        proof["manifest"] = base64.b64encode(json.dumps(doc).encode()).decode()
    elif tamper == "chain":
        proof["chain"] = proof["chain"][1:]
    else:
        doc = json.loads(base64.b64decode(proof["checkpoint"]))
        doc["last_bundle"] = 1
        proof["checkpoint"] = base64.b64encode(json.dumps(doc).encode()).decode()
    out.write_bytes(json.dumps(proof).encode())
    key = _public_key(env, tmp_path)
    checked = CliRunner().invoke(cli, ["verify-proof", str(out), "--public-key", str(key)])
    assert checked.exit_code == 3, checked.output
    assert "chatkeeper: error: proof:" in checked.output
    assert proof_reference.check(proof, _reference_keys(key)) is not None


def test_proof_under_a_rotated_key_follows_the_rotation(
    env: dict[str, str], tmp_path: Path, s3_endpoint: LocalS3Endpoint, bucket: str
) -> None:
    """A message sealed after a key rotation is proven to a verifier pinning the old key."""
    _seal(env, [slack_message(i) for i in range(30)])
    old_key = _public_key(env, tmp_path, "old.pub.json")
    assert CliRunner().invoke(cli, ["keys", "rotate"], env=env).exit_code == 0
    later = slack_message(500)
    _seal(env, [later])
    out = tmp_path / "proof.json"
    assert (
        CliRunner()
        .invoke(cli, ["prove", "--record-key", later.key, "--out", str(out)], env=env)
        .exit_code
        == 0
    )
    proof = json.loads(out.read_bytes())
    assert len(proof["key_history"]) == 1
    checked = CliRunner().invoke(cli, ["verify-proof", str(out), "--public-key", str(old_key)])
    assert checked.exit_code == 0, checked.output
    assert proof_reference.check(proof, _reference_keys(old_key)) is None
    proof["key_history"] = []
    assert proof_reference.check(proof, _reference_keys(old_key)) is not None


def test_unknown_record_cannot_be_proven(env: dict[str, str], tmp_path: Path) -> None:
    """prove for a key that is in no sealed bundle fails with exit 3 and writes nothing."""
    _seal(env, [slack_message(1)])
    out = tmp_path / "proof.json"
    result = CliRunner().invoke(
        cli, ["prove", "--record-key", "ab" * 32, "--out", str(out)], env=env
    )
    assert result.exit_code == 3 and not out.exists()
    assert "nothing to prove" in result.output


def test_fast_audit_paths_equal_rfc6962_paths() -> None:
    """The level-based audit path equals merkle.inclusion_proof for every leaf of many sizes."""
    for size in (1, 2, 3, 5, 7, 8, 9, 16, 33, 100):
        leaves = [merkle.leaf_hash(str(i).encode()) for i in range(size)]
        levels = tree_levels(leaves)
        assert levels[-1][0] == merkle.root(leaves)
        for index in range(size):
            assert audit_path(levels, index) == merkle.inclusion_proof(leaves, index)


def test_prove_from_an_officer_machine_pins_the_key(env: dict[str, str], tmp_path: Path) -> None:
    """prove on a machine without the signing key needs --public-key, and then works."""
    record = slack_message(7)
    _seal(env, [record])
    key = _public_key(env, tmp_path)
    officer = {**env, "CHATKEEPER_HOME": str(tmp_path / "officer")}
    out = tmp_path / "proof.json"
    unpinned = CliRunner().invoke(
        cli, ["prove", "--record-key", record.key, "--out", str(out)], env=officer
    )
    assert unpinned.exit_code == 3 and not out.exists()
    pinned = CliRunner().invoke(
        cli,
        ["prove", "--record-key", record.key, "--out", str(out), "--public-key", str(key)],
        env=officer,
    )
    assert pinned.exit_code == 0, pinned.output
