"""export --with-proofs: one offline-checkable proof per exported message, listed in custody."""

from __future__ import annotations

import json
from pathlib import Path

from click.testing import CliRunner

from archive.keys import load_or_create_signer
from archive.proof_check import verify_proof
from chatkeeper.cli import cli
from exporters.custody import verify_export
from exporters.manifest_io import read_manifest_header
from exporters.output import MANIFEST_NAME
from tests.exporters.test_export_cli import env  # noqa: F401  (the sealed sample archive)


def test_export_with_proofs_lists_a_verifiable_proof_per_message(
    env: dict[str, str],  # noqa: F811
    tmp_path: Path,
) -> None:
    """Every exported message has proofs/<key>.json in the custody manifest; each proof
    verifies offline for that record, and the export itself still verifies."""
    out = tmp_path / "out"
    result = CliRunner().invoke(
        cli, ["export", "--format", "jsonl", "--out", str(out), "--with-proofs"], env=env
    )
    assert result.exit_code == 0, result.output
    header = read_manifest_header(out / MANIFEST_NAME)
    files = header["proofs"]["files"]
    messages = [
        json.loads(line)["record"]
        for line in (out / "records.jsonl").read_text().splitlines()
        if json.loads(line)["record"]["kind"] == "message"
    ]
    assert messages and set(files) == {m["key"] for m in messages}
    public = load_or_create_signer(Path(env["CHATKEEPER_HOME"]) / "keys").public
    for key, relative in files.items():
        assert relative == f"proofs/{key}.json"
        proven = verify_proof((out / relative).read_bytes(), {public.key_id: public})
        assert proven.record["key"] == key
    signer = load_or_create_signer(Path(env["CHATKEEPER_HOME"]) / "keys" / "export")
    assert verify_export(out, {signer.public.key_id: signer.public}).problems == ()
    plain = tmp_path / "plain"
    CliRunner().invoke(cli, ["export", "--format", "jsonl", "--out", str(plain)], env=env)
    assert "proofs" not in read_manifest_header(plain / MANIFEST_NAME)
