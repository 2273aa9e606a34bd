# The archive key. Deletion is guarded three times: Terraform refuses to destroy it,
# its key policy lets only the key administrators schedule deletion or disable it,
# and a scheduled deletion waits kms_deletion_window_days (cancellable).
data "aws_caller_identity" "current" {}
data "aws_partition" "current" {}

locals {
  account_root = "arn:${data.aws_partition.current.partition}:iam::${data.aws_caller_identity.current.account_id}:root"
}

data "aws_iam_policy_document" "archive_key" {
  # A key policy's Resource "*" means this key only; kms:* for the account root is AWS's
  # default that delegates the key to IAM policies (without it the key is unmanageable).
  # checkov:skip=CKV_AWS_111:Key policy: resource "*" is this key; the account root is the only principal allowed.
  # checkov:skip=CKV_AWS_356:Key policy: resource "*" is this key, not every resource.
  # checkov:skip=CKV_AWS_109:Key policy: permission management stays with the account root; deletion is denied to all but key_admin_arns.
  statement {
    sid       = "AccountDelegatesToIam"
    effect    = "Allow"
    actions   = ["kms:*"]
    resources = ["*"]
    principals {
      type        = "AWS"
      identifiers = [local.account_root]
    }
  }
  statement {
    sid       = "OnlyKeyAdminsMayDeleteOrDisable"
    effect    = "Deny"
    actions   = ["kms:ScheduleKeyDeletion", "kms:DisableKey", "kms:PutKeyPolicy"]
    resources = ["*"]
    principals {
      type        = "AWS"
      identifiers = ["*"]
    }
    condition {
      test     = "ArnNotEquals"
      variable = "aws:PrincipalArn"
      values   = var.key_admin_arns
    }
  }
}

resource "aws_kms_key" "archive" {
  description             = "chatkeeper archive bucket ${var.bucket_name}"
  enable_key_rotation     = true
  deletion_window_in_days = var.kms_deletion_window_days
  policy                  = data.aws_iam_policy_document.archive_key.json
  tags                    = var.tags
  lifecycle {
    prevent_destroy = true
  }
}

resource "aws_kms_alias" "archive" {
  name          = "alias/chatkeeper-${var.bucket_name}"
  target_key_id = aws_kms_key.archive.key_id
}
