"""A dependency-free reference verifier for ``chatkeeper-proof/1`` (standard library only).

Written from docs/archive-format.md alone, as an independent verifier would be:
Ed25519 (RFC 8032, section 5.1.7), RFC 6962 audit paths, canonical JSON. It
returns None for a valid proof and the first problem otherwise. Key rotations
are followed as the format describes. Run: ``python proof_reference.py PROOF KEY.pub.json``.
"""

from __future__ import annotations

import base64
import hashlib
import json
import sys
from pathlib import Path
from typing import Any

# -- Ed25519 verification (RFC 8032) --------------------------------------------------
P = 2**255 - 19
L = 2**252 + 27742317777372353535851937790883648493
D = -121665 * pow(121666, P - 2, P) % P
SQRT_M1 = pow(2, (P - 1) // 4, P)


def _recover_x(y: int, sign: int) -> int | None:
    xx = (y * y - 1) * pow(D * y * y + 1, P - 2, P)
    x = pow(xx, (P + 3) // 8, P)
    if (x * x - xx) % P:
        x = x * SQRT_M1 % P
    if (x * x - xx) % P:
        return None
    if x & 1 != sign:
        x = P - x
    return None if x == 0 and sign else x


def _add(a: tuple[int, ...], b: tuple[int, ...]) -> tuple[int, ...]:
    x1, y1, z1, t1 = a
    x2, y2, z2, t2 = b
    aa, bb = (y1 - x1) * (y2 - x2) % P, (y1 + x1) * (y2 + x2) % P
    cc, dd = 2 * t1 * t2 * D % P, 2 * z1 * z2 % P
    e, f, g, h = bb - aa, dd - cc, dd + cc, bb + aa
    return (e * f % P, g * h % P, f * g % P, e * h % P)


def _mul(s: int, point: tuple[int, ...]) -> tuple[int, ...]:
    q: tuple[int, ...] = (0, 1, 1, 0)
    while s:
        if s & 1:
            q = _add(q, point)
        point, s = _add(point, point), s >> 1
    return q


def _equal(a: tuple[int, ...], b: tuple[int, ...]) -> bool:
    return (a[0] * b[2] - b[0] * a[2]) % P == 0 and (a[1] * b[2] - b[1] * a[2]) % P == 0


def _decompress(data: bytes) -> tuple[int, ...] | None:
    y = int.from_bytes(data, "little")
    sign, y = y >> 255, y & ((1 << 255) - 1)
    x = None if y >= P else _recover_x(y, sign)
    return None if x is None else (x, y, 1, x * y % P)


_GY = 4 * pow(5, P - 2, P) % P
_G = (_recover_x(_GY, 0) or 0, _GY, 1, (_recover_x(_GY, 0) or 0) * _GY % P)


def ed25519_verify(public: bytes, message: bytes, signature: bytes) -> bool:
    if len(public) != 32 or len(signature) != 64:
        return False
    a, r = _decompress(public), _decompress(signature[:32])
    s = int.from_bytes(signature[32:], "little")
    if a is None or r is None or s >= L:
        return False
    h = int.from_bytes(hashlib.sha512(signature[:32] + public + message).digest(), "little") % L
    return _equal(_mul(s, _G), _add(r, _mul(h, a)))


# -- the proof -------------------------------------------------------------------
def canonical(value: Any) -> bytes:
    return json.dumps(value, sort_keys=True, separators=(",", ":"), ensure_ascii=False).encode()


def node(left: bytes, right: bytes) -> bytes:
    return hashlib.sha256(b"\x01" + left + right).digest()


def audit_root(leaf: bytes, index: int, size: int, path: list[bytes]) -> bytes | None:
    if not 0 <= index < size:
        return None
    fn, sn, r = index, size - 1, leaf
    for p in path:
        if sn == 0:
            return None
        if fn & 1 or fn == sn:
            r = node(p, r)
            while not fn & 1 and fn != 0:
                fn, sn = fn >> 1, sn >> 1
        else:
            r = node(r, p)
        fn, sn = fn >> 1, sn >> 1
    return r if sn == 0 else None


def signed_by(doc: dict[str, Any], keys: dict[str, bytes]) -> str | None:
    sig = doc.get("signature") or {}
    key = keys.get(str(sig.get("key_id")))
    body = {k: v for k, v in doc.items() if k != "signature"}
    if sig.get("alg") != "ed25519" or key is None:
        return None
    ok = ed25519_verify(key, canonical(body), base64.b64decode(sig.get("value", "")))
    return str(sig["key_id"]) if ok else None


def check(proof: dict[str, Any], keys: dict[str, bytes]) -> str | None:
    """None if ``proof`` is valid under the pinned ``keys`` (key id -> raw key)."""
    keys, retired = dict(keys), {}
    b64 = base64.b64decode
    line = b64(proof["line"])
    sealed = json.loads(line)
    if sealed["record"]["key"] != proof["record_key"]:
        return "line holds another record"
    manifest_raw = b64(proof["manifest"])
    manifest = json.loads(manifest_raw)
    leaf = hashlib.sha256(b"\x00" + line).digest()
    path = [bytes.fromhex(h) for h in proof["audit_path"]]
    root = audit_root(leaf, proof["leaf_index"], proof["tree_size"], path)
    if proof["tree_size"] != manifest["record_count"]:
        return "tree size differs from the record count"
    if root is None or root.hex() != manifest["records"]["merkle_root"]:
        return "audit path does not reach the Merkle root"
    carried = [b64(m) for m in proof["key_history"]] + [manifest_raw]
    carried += [b64(m) for m in proof["chain"]]
    previous_number, previous_raw = 0, b""
    for raw in carried:
        doc = json.loads(raw)
        signer = signed_by(doc, keys)
        if signer is None or doc["bundle"] > retired.get(signer, doc["bundle"]):
            return f"bundle {doc['bundle']}: signature not by a trusted key"
        if doc["bundle"] <= previous_number or doc["stream"] != proof["stream"]:
            return "manifests out of order"
        if doc["bundle"] > proof["bundle"]:
            if doc["bundle"] != previous_number + 1:
                return "chain skips a bundle"
            if doc["previous_manifest_sha256"] != hashlib.sha256(previous_raw).hexdigest():
                return f"chain broken at bundle {doc['bundle']}"
        for entry in doc.get("key_rotations", []):
            old = keys.get(entry["old_key_id"])
            new = entry["new_key"]
            if entry["old_key_id"] != signer or old is None:
                return "rotation not by the bundle's signer"
            if not ed25519_verify(old, canonical(new), b64(entry["signature"])):
                return "rotation signature does not verify"
            raw_new = b64(new["public_key"])
            if hashlib.sha256(raw_new).hexdigest()[:16] != new["key_id"]:
                return "rotated key id does not match its key"
            keys[new["key_id"]], retired[signer] = raw_new, doc["bundle"]
        previous_number, previous_raw = doc["bundle"], raw
    if manifest["bundle"] != proof["bundle"]:
        return "manifest is not the proof's bundle"
    checkpoint = json.loads(b64(proof["checkpoint"]))
    if checkpoint["last_bundle"] != previous_number:
        return "checkpoint does not name the chain's last bundle"
    if checkpoint["last_manifest_sha256"] != hashlib.sha256(previous_raw).hexdigest():
        return "checkpoint does not name the chain's last manifest"
    signer = signed_by(checkpoint, keys)
    if signer is None or previous_number > retired.get(signer, previous_number):
        return "checkpoint signature not by a trusted key"
    return None


if __name__ == "__main__":
    pub = json.loads(Path(sys.argv[2]).read_bytes())
    proof = json.loads(Path(sys.argv[1]).read_bytes())
    problem = check(proof, {pub["key_id"]: base64.b64decode(pub["public_key"])})
    print(problem or "proof verifies")
    sys.exit(3 if problem else 0)
