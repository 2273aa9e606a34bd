# The archive bucket: Object Lock with a default retention, versioning, SSE-KMS,
# no public access, TLS only, and a policy no application role can loosen.
resource "aws_s3_bucket" "archive" {
  bucket              = var.bucket_name
  object_lock_enabled = true
  tags                = var.tags
  lifecycle {
    prevent_destroy = true
  }
  # checkov:skip=CKV_AWS_144:Cross-region replication of a COMPLIANCE-locked archive is a per-firm decision (a second locked bucket, its own key); see docs/deploy.md.
  # checkov:skip=CKV2_AWS_62:Event notifications are not used; chatkeeper's verify and /metrics watch the archive.
  # checkov:skip=CKV2_AWS_61:No lifecycle rule on purpose: expiry is chatkeeper's disposition (issue 14), which deletes only expired, unheld versions and seals a certificate.
}

resource "aws_s3_bucket_versioning" "archive" {
  bucket = aws_s3_bucket.archive.id
  versioning_configuration {
    status = "Enabled"
  }
}

resource "aws_s3_bucket_object_lock_configuration" "archive" {
  bucket = aws_s3_bucket.archive.id
  rule {
    default_retention {
      mode = var.retention_mode
      days = var.retention_days
    }
  }
  depends_on = [aws_s3_bucket_versioning.archive]
}

resource "aws_s3_bucket_server_side_encryption_configuration" "archive" {
  bucket = aws_s3_bucket.archive.id
  rule {
    apply_server_side_encryption_by_default {
      sse_algorithm     = "aws:kms"
      kms_master_key_id = aws_kms_key.archive.arn
    }
    bucket_key_enabled = true
  }
}

resource "aws_s3_bucket_public_access_block" "archive" {
  bucket                  = aws_s3_bucket.archive.id
  block_public_acls       = true
  block_public_policy     = true
  ignore_public_acls      = true
  restrict_public_buckets = true
}

resource "aws_s3_bucket_ownership_controls" "archive" {
  bucket = aws_s3_bucket.archive.id
  rule {
    object_ownership = "BucketOwnerEnforced"
  }
}

resource "aws_s3_bucket_logging" "archive" {
  bucket        = aws_s3_bucket.archive.id
  target_bucket = var.access_log_bucket
  target_prefix = "s3-access/${var.bucket_name}/"
}

locals {
  app_role_arns = [for role in aws_iam_role.duty : role.arn]
}

data "aws_iam_policy_document" "archive_bucket" {
  statement {
    sid       = "TlsOnly"
    effect    = "Deny"
    actions   = ["s3:*"]
    resources = [aws_s3_bucket.archive.arn, "${aws_s3_bucket.archive.arn}/*"]
    principals {
      type        = "*"
      identifiers = ["*"]
    }
    condition {
      test     = "Bool"
      variable = "aws:SecureTransport"
      values   = ["false"]
    }
  }
  statement {
    sid    = "NoApplicationRoleLoosensTheLock"
    effect = "Deny"
    actions = [
      "s3:BypassGovernanceRetention",
      "s3:PutBucketObjectLockConfiguration",
      "s3:PutBucketVersioning",
      "s3:PutBucketPolicy",
      "s3:DeleteBucketPolicy",
      "s3:PutLifecycleConfiguration",
      "s3:DeleteBucket",
    ]
    resources = [aws_s3_bucket.archive.arn, "${aws_s3_bucket.archive.arn}/*"]
    principals {
      type        = "AWS"
      identifiers = local.app_role_arns
    }
  }
  statement {
    sid       = "OnlyDispositionDeletesVersions"
    effect    = "Deny"
    actions   = ["s3:DeleteObject", "s3:DeleteObjectVersion"]
    resources = ["${aws_s3_bucket.archive.arn}/*"]
    principals {
      type        = "AWS"
      identifiers = local.app_role_arns
    }
    condition {
      test     = "ArnNotEquals"
      variable = "aws:PrincipalArn"
      values   = [aws_iam_role.duty["disposition"].arn]
    }
  }
  statement {
    sid       = "OnlyLegalSetsLegalHolds"
    effect    = "Deny"
    actions   = ["s3:PutObjectLegalHold"]
    resources = ["${aws_s3_bucket.archive.arn}/*"]
    principals {
      type        = "AWS"
      identifiers = local.app_role_arns
    }
    condition {
      test     = "ArnNotEquals"
      variable = "aws:PrincipalArn"
      values   = [aws_iam_role.duty["legal"].arn]
    }
  }
}

resource "aws_s3_bucket_policy" "archive" {
  bucket     = aws_s3_bucket.archive.id
  policy     = data.aws_iam_policy_document.archive_bucket.json
  depends_on = [aws_s3_bucket_public_access_block.archive]
}
