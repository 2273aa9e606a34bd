"""The embedded S3's identities: one per duty, added to an identities file of an older version."""

from __future__ import annotations

import json
from pathlib import Path

from archive.store.local_s3 import _load_identities, bucket_policy


def test_older_identities_file_gains_the_legal_and_disposition_duties(tmp_path: Path) -> None:
    """A file with only admin, archiver and auditor keeps their keys and gains the new duties."""
    path = tmp_path / "identities.json"
    old = {
        "identities": [
            {
                "name": name,
                "credentials": [{"accessKey": f"{name}-old", "secretKey": f"{name}-secret"}],
                "actions": ["Read"],
            }
            for name in ("admin", "archiver", "auditor")
        ]
    }
    path.write_text(json.dumps(old))
    creds = _load_identities(path)
    assert creds["archiver"].access_key == "archiver-old"
    assert set(creds) == {"admin", "archiver", "auditor", "legal", "disposition"}
    written = {i["name"]: i["actions"] for i in json.loads(path.read_text())["identities"]}
    assert "PutObjectLegalHold" in written["legal"]
    assert "PutObjectLegalHold" not in written["archiver"]
    assert path.stat().st_mode & 0o777 == 0o600
    assert _load_identities(path) == creds


def test_bucket_policy_denies_deletes_to_all_but_disposition() -> None:
    """The archiver, auditor and legal duties are denied deletes; disposition is denied writes."""
    statements = {s["Sid"]: s for s in bucket_policy("b")["Statement"]}
    deny_delete = statements["OnlyDispositionDeletes"]
    assert "s3:DeleteObjectVersion" in deny_delete["Action"]
    assert not any("disposition" in p for p in deny_delete["Principal"]["AWS"])
    assert statements["DispositionNeverWrites"]["Principal"]["AWS"][0].endswith("/disposition")
