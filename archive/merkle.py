"""RFC 6962 Merkle tree hashes over sealed record lines.

leaf = SHA-256(0x00 || line); node = SHA-256(0x01 || left || right); the tree
splits at the largest power of two smaller than n. One record can be proven
to be in a bundle with an audit path of log2(n) hashes.
"""

from __future__ import annotations

import hashlib
from collections.abc import Sequence

_LEAF = hashlib.sha256(b"\x00")


def leaf_hash(line: bytes) -> bytes:
    """SHA-256(0x00 || line), without copying the line."""
    digest = _LEAF.copy()
    digest.update(line)
    return digest.digest()


def _node(left: bytes, right: bytes) -> bytes:
    return hashlib.sha256(b"\x01" + left + right).digest()


def _split(n: int) -> int:
    k = 1
    while k * 2 < n:
        k *= 2
    return k


def root(leaves: Sequence[bytes]) -> bytes:
    """The Merkle tree hash of the given leaf hashes (SHA-256 of "" for none)."""
    if not leaves:
        return hashlib.sha256(b"").digest()
    level = list(leaves)
    # Bottom-up pairing gives the RFC 6962 shape: an odd node is promoted as is.
    sha256 = hashlib.sha256
    while len(level) > 1:
        pairs = iter(level)  # zip takes two at a time from it; an odd last one stays out
        paired = [
            sha256(b"\x01" + left + right).digest()
            for left, right in zip(pairs, pairs, strict=False)
        ]
        if len(level) % 2:
            paired.append(level[-1])
        level = paired
    return level[0]


def inclusion_proof(leaves: Sequence[bytes], index: int) -> list[bytes]:
    """The audit path for leaf ``index`` (RFC 6962 section 2.1.1)."""
    if not 0 <= index < len(leaves):
        raise IndexError("leaf index out of range")
    if len(leaves) == 1:
        return []
    k = _split(len(leaves))
    if index < k:
        return [*inclusion_proof(leaves[:k], index), root(leaves[k:])]
    return [*inclusion_proof(leaves[k:], index - k), root(leaves[:k])]


def verify_inclusion(
    leaf: bytes, index: int, size: int, proof: Sequence[bytes], expected: bytes
) -> bool:
    """Check an audit path against a root (RFC 9162 section 2.1.3.2)."""
    if not 0 <= index < size:
        return False
    fn, sn, node = index, size - 1, leaf
    for sibling in proof:
        if sn == 0:
            return False
        if fn & 1 or fn == sn:
            node = _node(sibling, node)
            while not fn & 1 and fn != 0:
                fn >>= 1
                sn >>= 1
        else:
            node = _node(node, sibling)
        fn >>= 1
        sn >>= 1
    return sn == 0 and node == expected
