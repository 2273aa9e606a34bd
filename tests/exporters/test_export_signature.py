"""The signed custody manifest: ``export-manifest.sig.json`` and ``verify-export``'s check of it."""

from __future__ import annotations

import base64
import hashlib
import json
from pathlib import Path

from click.testing import CliRunner

from archive.codec import canonical_json
from archive.keys import PublicKey, local_public_keys
from chatkeeper.cli import cli
from exporters.custody import verify_export
from exporters.custody_signature import PUBLIC_KEY_NAME, SIGNATURE_NAME, sign_custody
from exporters.output import MANIFEST_NAME
from tests.exporters.export_fixtures import EXPORT_SIGNER, PINNED, fixed_signer, run
from tests.exporters.test_export_cli import env  # noqa: F401  (the sealed sample archive)

FORGER = fixed_signer(b"someone else's key")


def _edit_manifest(root: Path) -> None:
    path = root / MANIFEST_NAME
    path.write_bytes(path.read_bytes().replace(b"officer@example.com", b"officer@example.org"))


def test_signature_states_the_manifest_bytes_under_the_export_key(tmp_path: Path) -> None:
    """The detached statement names the manifest's SHA-256 and size, signed over its canonical JSON."""
    run("csv", tmp_path)
    doc = json.loads((tmp_path / SIGNATURE_NAME).read_bytes())
    data = (tmp_path / MANIFEST_NAME).read_bytes()
    assert doc["format"] == "chatkeeper-export-signature/1"
    assert doc["manifest"] == MANIFEST_NAME
    assert (doc["manifest_sha256"], doc["manifest_size"]) == (
        hashlib.sha256(data).hexdigest(),
        len(data),
    )
    signature = doc.pop("signature")
    assert signature["key_id"] == EXPORT_SIGNER.public.key_id
    assert EXPORT_SIGNER.public.verify(base64.b64decode(signature["value"]), canonical_json(doc))
    published = PublicKey.from_json((tmp_path / PUBLIC_KEY_NAME).read_bytes())
    assert published == EXPORT_SIGNER.public
    check = verify_export(tmp_path, PINNED)
    assert check.ok and check.signed_by == EXPORT_SIGNER.public.key_id


def test_changed_custody_manifest_byte_is_an_integrity_failure(tmp_path: Path) -> None:
    """One changed byte in export-manifest.json (the operator's name) fails verify-export."""
    run("csv", tmp_path)
    _edit_manifest(tmp_path)
    check = verify_export(tmp_path, PINNED)
    assert check.problems == ("export-manifest.json changed after it was signed",)


def test_manifest_resigned_with_another_key_is_refused(tmp_path: Path) -> None:
    """A forger who edits the manifest and re-signs it with their own key is not trusted."""
    run("csv", tmp_path)
    _edit_manifest(tmp_path)
    sign_custody(tmp_path, FORGER)  # also replaces export-public-key.json with the forger's
    [problem] = verify_export(tmp_path, PINNED).problems
    assert f"signed by export key {FORGER.public.key_id!r}, which is not pinned" in problem
    assert "--public-key FILE" in problem


def test_forged_signature_claiming_the_pinned_key_does_not_verify(tmp_path: Path) -> None:
    """A signature made with another key but naming the pinned key id fails to verify."""
    run("csv", tmp_path)
    path = tmp_path / SIGNATURE_NAME
    doc = json.loads(path.read_bytes())
    body = {k: v for k, v in doc.items() if k != "signature"}
    doc["signature"]["value"] = base64.b64encode(FORGER.sign(canonical_json(body))).decode()
    path.write_bytes(canonical_json(doc))
    assert verify_export(tmp_path, PINNED).problems == (
        "custody manifest signature: signature does not verify",
    )


def test_missing_signature_is_an_integrity_failure(tmp_path: Path) -> None:
    """An export without export-manifest.sig.json is not intact."""
    run("csv", tmp_path)
    (tmp_path / SIGNATURE_NAME).unlink()
    assert verify_export(tmp_path, PINNED).problems == (
        "export-manifest.sig.json is missing: the custody manifest is unsigned",
    )


def test_valid_signature_under_an_unpinned_key_does_not_count(tmp_path: Path) -> None:
    """Without the signer's key pinned, even an untouched export fails and says how to pin."""
    run("csv", tmp_path)
    check = verify_export(tmp_path, {FORGER.public.key_id: FORGER.public})
    assert not check.ok and check.signed_by is None
    assert "which is not pinned" in check.problems[0]


def test_cli_signs_with_a_dedicated_export_key_and_verify_export_pins_it(
    env: dict[str, str],  # noqa: F811
    tmp_path: Path,
) -> None:
    """export creates <home>/keys/export/ (0600, apart from the archive's keys); verify-export pins it."""
    out = tmp_path / "out"
    runner = CliRunner()
    result = runner.invoke(cli, ["export", "--format", "csv", "--out", str(out)], env=env)
    assert result.exit_code == 0, result.output
    key_dir = Path(env["CHATKEEPER_HOME"]) / "keys" / "export"
    assert (key_dir / "signing-ed25519.pem").stat().st_mode & 0o777 == 0o600
    [export_key] = local_public_keys(key_dir).values()
    assert PublicKey.from_json((out / PUBLIC_KEY_NAME).read_bytes()) == export_key
    assert export_key.key_id not in local_public_keys(Path(env["CHATKEEPER_HOME"]) / "keys")
    assert f"signed with export key {export_key.key_id!r}" in result.output
    check = runner.invoke(cli, ["verify-export", str(out)], env=env)
    assert check.exit_code == 0, check.output
    assert f"signed by pinned export key {export_key.key_id!r}" in check.output
    elsewhere = {**env, "CHATKEEPER_HOME": str(tmp_path / "reviewer")}
    unpinned = runner.invoke(cli, ["verify-export", str(out)], env=elsewhere)
    assert unpinned.exit_code == 3
    assert "which is not pinned" in unpinned.output and "--public-key FILE" in unpinned.output
    pub = str(key_dir / f"{export_key.key_id}.pub.json")
    pinned = runner.invoke(cli, ["verify-export", str(out), "--public-key", pub], env=elsewhere)
    assert pinned.exit_code == 0, pinned.output
    _edit_manifest(out)
    changed = runner.invoke(cli, ["verify-export", str(out), "--public-key", pub], env=elsewhere)
    assert changed.exit_code == 3
    assert "export-manifest.json changed after it was signed" in changed.output
