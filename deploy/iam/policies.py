"""The S3 duties of chatkeeper, read from the one policy source: deploy/terraform/iam.tf.

Each duty (archiver, auditor, console, legal, disposition) has a literal
``data "aws_iam_policy_document" "<duty>"`` block there. This module parses
those blocks with python-hcl2 and gives, per duty:

* the S3 actions the policy allows, with the resource patterns they apply to
  (``allowed``), for the least-privilege test to compare with what the code does;
* the IAM actions one boto3 S3 operation needs (``actions_for``), so that the
  operations recorded from a client can be compared with a policy;
* the embedded SeaweedFS identity of the same duty (``seaweedfs_identities``).
  SeaweedFS has coarser actions than IAM (``Write`` is put *and* delete), so
  ``seaweedfs_extra`` names what an identity can do there beyond its policy.

Run ``python -m deploy.iam.policies seaweedfs-identities --bucket B --out FILE``
to write an identities file for ``weed -s3.config`` (fresh random keys).
"""

from __future__ import annotations

import argparse
import fnmatch
import json
import re
import secrets
import sys
from collections.abc import Mapping
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import hcl2

TERRAFORM_DIR = Path(__file__).resolve().parents[1] / "terraform"
DUTIES = ("archiver", "auditor", "console", "legal", "disposition")


@dataclass(frozen=True)
class Statement:
    sid: str
    effect: str
    actions: frozenset[str]
    resources: tuple[str, ...]  # ARN patterns with ${...} resolved
    prefixes: tuple[str, ...] | None  # s3:prefix StringLike condition, if any


def _clean(value: Any) -> Any:
    """python-hcl2 8 keeps the quotes of string literals and block labels: drop them."""
    if isinstance(value, str):
        return value[1:-1] if len(value) >= 2 and value[0] == value[-1] == '"' else value
    if isinstance(value, list):
        return [_clean(v) for v in value]
    if isinstance(value, dict):
        return {_clean(k): _clean(v) for k, v in value.items() if k != "__comments__"}
    return value


def _one(value: Any) -> Any:
    """python-hcl2 wraps every attribute in a list; unwrap one level."""
    return value[0] if isinstance(value, list) and len(value) == 1 else value


def _flat(value: Any) -> list[str]:
    value = _one(value)
    return [str(v) for v in (value if isinstance(value, list) else [value])]


def _resolver(bucket: str, stream: str, prefix: str, locals_: Mapping[str, str]) -> Any:
    names = {
        "var.prefix": prefix,
        "var.stream": stream,
        "var.retention_mode": "COMPLIANCE",
        "aws_s3_bucket.archive.arn": f"arn:aws:s3:::{bucket}",
        "aws_kms_key.archive.arn": "arn:aws:kms:*:*:key/archive",
    }

    def resolve(text: str) -> str:
        def one(match: re.Match[str]) -> str:
            name = match.group(1)
            if name.startswith("local."):
                return resolve(locals_[name.removeprefix("local.")])
            if name not in names:
                raise KeyError(f"cannot resolve ${{{name}}} in the policy source")
            return names[name]

        return re.sub(r"\$\{([^}]+)\}", one, text)

    return resolve


def read_source(terraform_dir: Path = TERRAFORM_DIR) -> tuple[dict[str, Any], dict[str, str]]:
    """The policy document blocks by name, and the module's string locals."""
    with (terraform_dir / "iam.tf").open() as handle:
        parsed = _clean(hcl2.load(handle))
    documents: dict[str, Any] = {}
    for block in parsed.get("data", []):
        documents.update(block.get("aws_iam_policy_document", {}))
    locals_: dict[str, str] = {}
    for block in parsed.get("locals", []):
        for name, value in block.items():
            if isinstance(_one(value), str):
                locals_[name] = str(_one(value))
    return documents, locals_


def statements(
    duty: str,
    *,
    bucket: str = "BUCKET",
    stream: str = "main",
    prefix: str = "",
    terraform_dir: Path = TERRAFORM_DIR,
) -> list[Statement]:
    """The statements of ``duty``'s policy, with bucket, stream and prefix filled in."""
    documents, locals_ = read_source(terraform_dir)
    if duty not in documents:
        raise KeyError(f"no aws_iam_policy_document {duty!r} in {terraform_dir / 'iam.tf'}")
    resolve = _resolver(bucket, stream, prefix, locals_)
    found: list[Statement] = []
    for raw in documents[duty].get("statement", []):
        prefixes: tuple[str, ...] | None = None
        for condition in raw.get("condition", []):
            if _one(condition["variable"]) == "s3:prefix":
                prefixes = tuple(resolve(v) for v in _flat(condition["values"]))
        found.append(
            Statement(
                sid=str(_one(raw.get("sid", ""))),
                effect=str(_one(raw.get("effect", "Allow"))),
                actions=frozenset(_flat(raw["actions"])),
                resources=tuple(resolve(r) for r in _flat(raw["resources"])),
                prefixes=prefixes,
            )
        )
    return found


def allowed(duty: str, **where: Any) -> set[str]:
    """The S3 actions ``duty``'s policy allows (KMS actions are not S3 operations)."""
    return {
        action
        for s in statements(duty, **where)
        if s.effect == "Allow"
        for action in s.actions
        if action.startswith("s3:")
    }


def permits(duty: str, action: str, bucket: str, key: str | None, **where: Any) -> bool:
    """Whether an Allow statement of ``duty`` covers ``action`` on this bucket or object key."""
    arn = f"arn:aws:s3:::{bucket}" + ("" if key is None else f"/{key}")
    for s in statements(duty, bucket=bucket, **where):
        if s.effect != "Allow" or action not in s.actions:
            continue
        if not any(fnmatch.fnmatchcase(arn, pattern) for pattern in s.resources):
            continue
        if s.prefixes is not None and key is None:
            # A listing: its Prefix parameter is checked by the caller through ``key``.
            continue
        return True
    return False


def permits_listing(duty: str, bucket: str, prefix: str, **where: Any) -> bool:
    """Whether ``duty`` may list versions under ``prefix`` (the s3:prefix condition)."""
    for s in statements(duty, bucket=bucket, **where):
        if s.effect != "Allow" or "s3:ListBucketVersions" not in s.actions:
            continue
        if s.prefixes is None or any(fnmatch.fnmatchcase(prefix, p) for p in s.prefixes):
            return True
    return False


def actions_for(operation: str, params: Mapping[str, Any]) -> set[str]:
    """The IAM actions one boto3 S3 call needs (AWS's authorization reference)."""
    versioned = "VersionId" in params
    bypass = {"s3:BypassGovernanceRetention"} if params.get("BypassGovernanceRetention") else set()
    if operation in {"GetObject", "HeadObject"}:
        return {"s3:GetObjectVersion" if versioned else "s3:GetObject"}
    if operation == "PutObject":
        needed = {"s3:PutObject"}
        if "ObjectLockMode" in params or "ObjectLockRetainUntilDate" in params:
            needed.add("s3:PutObjectRetention")
        if "ObjectLockLegalHoldStatus" in params:
            needed.add("s3:PutObjectLegalHold")
        return needed
    if operation == "DeleteObject":
        return {"s3:DeleteObjectVersion" if versioned else "s3:DeleteObject"} | bypass
    if operation == "PutObjectRetention":
        return {"s3:PutObjectRetention"} | bypass
    simple = {
        "ListObjectVersions": "s3:ListBucketVersions",
        "ListObjectsV2": "s3:ListBucket",
        "ListObjects": "s3:ListBucket",
        "HeadBucket": "s3:ListBucket",
        "ListBuckets": "s3:ListAllMyBuckets",
        "GetBucketVersioning": "s3:GetBucketVersioning",
        "GetObjectLockConfiguration": "s3:GetBucketObjectLockConfiguration",
        "PutObjectLockConfiguration": "s3:PutBucketObjectLockConfiguration",
        "GetObjectRetention": "s3:GetObjectRetention",
        "GetObjectLegalHold": "s3:GetObjectLegalHold",
        "PutObjectLegalHold": "s3:PutObjectLegalHold",
    }
    if operation not in simple:
        raise KeyError(f"S3 operation {operation} is not mapped to IAM actions: add it here")
    return {simple[operation]}


# IAM action -> the SeaweedFS identity action that grants it (weed s3_constants).
_SEAWEEDFS = {
    "s3:GetObject": "Read",
    "s3:GetObjectVersion": "Read",
    "s3:GetBucketVersioning": "Read",
    "s3:ListBucket": "List",
    "s3:ListBucketVersions": "List",
    "s3:PutObject": "Write",
    "s3:DeleteObject": "Write",
    "s3:DeleteObjectVersion": "Write",
    "s3:GetObjectRetention": "GetObjectRetention",
    "s3:PutObjectRetention": "PutObjectRetention",
    "s3:GetObjectLegalHold": "GetObjectLegalHold",
    "s3:PutObjectLegalHold": "PutObjectLegalHold",
    "s3:GetBucketObjectLockConfiguration": "GetBucketObjectLockConfiguration",
    "s3:PutBucketObjectLockConfiguration": "PutBucketObjectLockConfiguration",
    "s3:BypassGovernanceRetention": "BypassGovernanceRetention",
}


def seaweedfs_actions(duty: str, bucket: str) -> list[str]:
    """SeaweedFS actions of ``duty``, each scoped to ``bucket``."""
    return sorted({f"{_SEAWEEDFS[a]}:{bucket}" for a in allowed(duty, bucket=bucket)})


def seaweedfs_extra(duty: str, bucket: str) -> set[str]:
    """IAM actions a SeaweedFS identity of ``duty`` gets beyond its policy (coarser actions)."""
    granted = {a.split(":")[0] for a in seaweedfs_actions(duty, bucket)}
    policy = allowed(duty, bucket=bucket)
    return {iam for iam, weed in _SEAWEEDFS.items() if weed in granted and iam not in policy}


def seaweedfs_identities(bucket: str, keys: Mapping[str, tuple[str, str]]) -> dict[str, Any]:
    """An identities document for ``weed -s3.config``: ``admin`` plus one identity per duty.

    ``keys`` maps admin and every duty to (access key, secret key). The admin
    identity is only for creating the bucket with Object Lock.
    """
    actions = {"admin": ["Admin", "Read", "Write", "List", "Tagging"]}
    actions.update({duty: seaweedfs_actions(duty, bucket) for duty in DUTIES})
    return {
        "identities": [
            {
                "name": name,
                "credentials": [{"accessKey": keys[name][0], "secretKey": keys[name][1]}],
                "actions": actions[name],
            }
            for name in ("admin", *DUTIES)
        ]
    }


def random_keys() -> dict[str, tuple[str, str]]:
    return {
        name: (f"{name}-{secrets.token_hex(6)}", secrets.token_urlsafe(30))
        for name in ("admin", *DUTIES)
    }


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(prog="python -m deploy.iam.policies")
    sub = parser.add_subparsers(dest="command", required=True)
    ids = sub.add_parser("seaweedfs-identities", help="write a weed -s3.config identities file")
    ids.add_argument("--bucket", required=True)
    ids.add_argument("--out", type=Path, required=True)
    show = sub.add_parser("show", help="print each duty's allowed S3 actions")
    show.add_argument("--bucket", default="BUCKET")
    args = parser.parse_args(argv)
    if args.command == "show":
        for duty in DUTIES:
            print(f"{duty}: {', '.join(sorted(allowed(duty, bucket=args.bucket)))}")
        return 0
    document = seaweedfs_identities(args.bucket, random_keys())
    args.out.write_text(json.dumps(document, indent=2))
    args.out.chmod(0o600)
    print(f"wrote {args.out} (identities: admin, {', '.join(DUTIES)}; keys not printed)")
    return 0


if __name__ == "__main__":
    sys.exit(main())
