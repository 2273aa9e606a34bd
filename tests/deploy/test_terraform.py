"""The Terraform module parses (python-hcl2) and holds the archive's non-negotiables."""

from __future__ import annotations

from pathlib import Path
from typing import Any

import hcl2
import pytest

from deploy.iam import policies

TERRAFORM = Path(__file__).resolve().parents[2] / "deploy" / "terraform"


def _load() -> dict[str, Any]:
    merged: dict[str, Any] = {"resource": {}, "data": {}, "variable": {}}
    for path in sorted(TERRAFORM.glob("*.tf")):
        with path.open() as handle:
            parsed = policies._clean(hcl2.load(handle))
        for kind in merged:
            for block in parsed.get(kind, []):
                for type_name, named in block.items():
                    if kind == "variable":
                        merged[kind][type_name] = named
                    else:
                        merged[kind].setdefault(type_name, {}).update(named)
    return merged


@pytest.fixture(scope="module")
def tf() -> dict[str, Any]:
    return _load()


def one(value: Any) -> Any:
    return policies._one(value)


def test_bucket_has_object_lock_compliance_by_default_and_versioning(tf: dict[str, Any]) -> None:
    """Object Lock on, default retention COMPLIANCE for retention_days, versioning Enabled."""
    bucket = tf["resource"]["aws_s3_bucket"]["archive"]
    assert one(bucket["object_lock_enabled"]) is True
    assert one(one(bucket["lifecycle"])["prevent_destroy"]) is True
    rule = one(tf["resource"]["aws_s3_bucket_object_lock_configuration"]["archive"]["rule"])
    default = one(rule["default_retention"])
    assert one(default["mode"]) == "${var.retention_mode}"
    assert one(tf["variable"]["retention_mode"]["default"]) == "COMPLIANCE"
    assert one(tf["variable"]["retention_days"]["default"]) == 2557
    versioning = tf["resource"]["aws_s3_bucket_versioning"]["archive"]
    assert one(one(versioning["versioning_configuration"])["status"]) == "Enabled"


def test_bucket_is_encrypted_with_a_guarded_kms_key_and_never_public(tf: dict[str, Any]) -> None:
    """SSE-KMS with the module's key; the key rotates and cannot be destroyed; no public access."""
    sse = tf["resource"]["aws_s3_bucket_server_side_encryption_configuration"]["archive"]
    default = one(one(one(sse["rule"])["apply_server_side_encryption_by_default"]))
    assert one(default["sse_algorithm"]) == "aws:kms"
    assert one(default["kms_master_key_id"]) == "${aws_kms_key.archive.arn}"
    key = tf["resource"]["aws_kms_key"]["archive"]
    assert one(key["enable_key_rotation"]) is True
    assert one(one(key["lifecycle"])["prevent_destroy"]) is True
    key_policy = tf["data"]["aws_iam_policy_document"]["archive_key"]["statement"]
    guard = next(s for s in key_policy if one(s["sid"]) == "OnlyKeyAdminsMayDeleteOrDisable")
    assert one(guard["effect"]) == "Deny"
    assert "kms:ScheduleKeyDeletion" in one(guard["actions"])
    block = tf["resource"]["aws_s3_bucket_public_access_block"]["archive"]
    for name in ("block_public_acls", "block_public_policy", "ignore_public_acls"):
        assert one(block[name]) is True
    assert one(block["restrict_public_buckets"]) is True


def test_bucket_policy_is_tls_only_and_denies_lock_changes_to_every_app_role(
    tf: dict[str, Any],
) -> None:
    """Deny non-TLS to all; deny governance bypass and lock-configuration changes to app roles."""
    statements = {
        one(s["sid"]): s
        for s in tf["data"]["aws_iam_policy_document"]["archive_bucket"]["statement"]
    }
    tls = statements["TlsOnly"]
    assert one(tls["effect"]) == "Deny"
    condition = one(tls["condition"])
    assert one(condition["variable"]) == "aws:SecureTransport"
    assert policies._flat(condition["values"]) == ["false"]
    lock = statements["NoApplicationRoleLoosensTheLock"]
    assert one(lock["effect"]) == "Deny"
    assert {"s3:BypassGovernanceRetention", "s3:PutBucketObjectLockConfiguration"} <= set(
        one(lock["actions"])
    )
    assert one(one(lock["principals"])["identifiers"]) == "${local.app_role_arns}"
    roles = tf["resource"]["aws_iam_role"]["duty"]
    assert one(roles["for_each"]) == "${local.duty_policies}"


def test_only_the_legal_role_may_set_a_legal_hold(tf: dict[str, Any]) -> None:
    """Only legal's policy has PutObjectLegalHold; the bucket policy denies it to other roles."""
    for duty in policies.DUTIES:
        assert ("s3:PutObjectLegalHold" in policies.allowed(duty)) is (duty == "legal"), duty
    statements = {
        one(s["sid"]): s
        for s in tf["data"]["aws_iam_policy_document"]["archive_bucket"]["statement"]
    }
    deny = statements["OnlyLegalSetsLegalHolds"]
    assert one(deny["effect"]) == "Deny"
    assert policies._flat(deny["actions"]) == ["s3:PutObjectLegalHold"]
    condition = one(deny["condition"])
    assert one(condition["test"]) == "ArnNotEquals"
    assert policies._flat(condition["values"]) == ['${aws_iam_role.duty["legal"].arn}']


def test_one_role_per_duty_and_no_role_may_delete_except_disposition() -> None:
    """Five duties; only disposition's policy has a delete action, and only for versions."""
    for duty in policies.DUTIES:
        actions = policies.allowed(duty)
        deletes = {a for a in actions if "Delete" in a}
        assert deletes == ({"s3:DeleteObjectVersion"} if duty == "disposition" else set())
        assert "s3:BypassGovernanceRetention" not in actions
        assert not any("ObjectLockConfiguration" in a and "Put" in a for a in actions)
