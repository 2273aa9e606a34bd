"""The verified state of a stream, signed by the officer who verified it.

After verification finds a stream intact, ``verify --incremental`` keeps where
it got to: the last bundle, its manifest's SHA-256 and last seq, and the keys
the trust walk trusted there (pinned, or introduced by a followed rotation).
The state is signed with the verifier's own key (``<home>/keys/verify/``),
kept on the officer's machine, never in the bucket: a writer of the bucket
cannot forge it, and a state whose signature fails is refused, never used.
"""

from __future__ import annotations

import json
from dataclasses import dataclass, field
from datetime import datetime
from pathlib import Path
from typing import Any

from archive.bundle import check_signature, sign_document
from archive.codec import format_time, parse_time
from archive.errors import ConfigError, IntegrityError
from archive.keys import PublicKey, Signer

FORMAT = "chatkeeper-verified-state/1"


@dataclass(frozen=True)
class VerifiedState:
    stream: str
    last_bundle: int
    last_manifest_sha256: str | None
    last_seq: int
    records: int
    verified_at: datetime
    keys: dict[str, PublicKey] = field(default_factory=dict)
    retired: dict[str, int] = field(default_factory=dict)
    introduced: dict[str, int] = field(default_factory=dict)


def write_state(path: Path, state: VerifiedState, signer: Signer) -> None:
    """Sign ``state`` and replace ``path`` with it atomically."""
    body: dict[str, Any] = {
        "format": FORMAT,
        "stream": state.stream,
        "last_bundle": state.last_bundle,
        "last_manifest_sha256": state.last_manifest_sha256,
        "last_seq": state.last_seq,
        "records": state.records,
        "verified_at": format_time(state.verified_at),
        "keys": {k: json.loads(v.to_json()) for k, v in sorted(state.keys.items())},
        "retired": state.retired,
        "introduced": state.introduced,
    }
    path.parent.mkdir(parents=True, exist_ok=True, mode=0o700)
    temporary = path.with_suffix(".tmp")
    temporary.write_bytes(sign_document(body, signer))
    temporary.replace(path)


def read_state(path: Path, verifier: PublicKey, stream: str) -> VerifiedState:
    """The state at ``path``, if the verifier's key signed it for ``stream``; else IntegrityError."""
    try:
        doc = json.loads(path.read_bytes())
    except OSError as exc:
        raise ConfigError(f"cannot read the verified state {path}: {exc}") from exc
    except ValueError as exc:
        raise IntegrityError(f"the verified state {path} is not JSON") from exc
    if not isinstance(doc, dict) or doc.get("format") != FORMAT:
        raise IntegrityError(f"{path} is not a {FORMAT} document")
    problem = check_signature(doc, {verifier.key_id: verifier})
    if problem:
        raise IntegrityError(f"the verified state {path} is not trusted: {problem}")
    if doc["stream"] != stream:
        raise IntegrityError(f"the verified state {path} is of stream {doc['stream']!r}")
    return VerifiedState(
        stream=doc["stream"],
        last_bundle=int(doc["last_bundle"]),
        last_manifest_sha256=doc["last_manifest_sha256"],
        last_seq=int(doc["last_seq"]),
        records=int(doc["records"]),
        verified_at=parse_time(doc["verified_at"]),
        keys={k: PublicKey.from_json(json.dumps(v).encode()) for k, v in dict(doc["keys"]).items()},
        retired={k: int(v) for k, v in dict(doc["retired"]).items()},
        introduced={k: int(v) for k, v in dict(doc["introduced"]).items()},
    )
