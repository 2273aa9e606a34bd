# One IAM role per duty, each with exactly the S3 actions chatkeeper performs in it.
# These policy documents are the one policy source: tests/deploy/test_least_privilege.py
# derives each role's S3 actions from them and compares them with the operations the
# code performs in that role, and the embedded SeaweedFS gets the same identities from
# them (deploy/iam/policies.py). No action has a wildcard.
locals {
  bucket_arn     = aws_s3_bucket.archive.arn
  stream_objects = "${aws_s3_bucket.archive.arn}/${var.prefix}streams/${var.stream}/*"
  blob_objects   = "${aws_s3_bucket.archive.arn}/${var.prefix}blobs/*"
  all_objects    = "${aws_s3_bucket.archive.arn}/*"
  records_objects = "${aws_s3_bucket.archive.arn}/${var.prefix}streams/${var.stream}/bundles/*/records.jsonl.zst"
  duty_policies = {
    archiver    = data.aws_iam_policy_document.archiver.json
    auditor     = data.aws_iam_policy_document.auditor.json
    console     = data.aws_iam_policy_document.console.json
    legal       = data.aws_iam_policy_document.legal.json
    disposition = data.aws_iam_policy_document.disposition.json
  }
}

# archiver: `chatkeeper serve` and `seal`, and the sealing of officers' records (hold
# changes, the disposition certificate) and `retention extend`. Puts locked objects with
# checksums, reads back its own stream (resuming a crashed seal, the sealed matters),
# reads and extends retention. No delete, no legal hold.
data "aws_iam_policy_document" "archiver" {
  statement {
    sid       = "CheckBucketIsLocked"
    actions   = ["s3:GetBucketVersioning", "s3:GetBucketObjectLockConfiguration"]
    resources = [local.bucket_arn]
  }
  statement {
    sid       = "ListOwnStreamAndBlobs"
    actions   = ["s3:ListBucketVersions"]
    resources = [local.bucket_arn]
    condition {
      test     = "StringLike"
      variable = "s3:prefix"
      values   = ["${var.prefix}streams/${var.stream}/*", "${var.prefix}blobs/*"]
    }
  }
  statement {
    sid       = "PutLockedObjects"
    actions   = ["s3:PutObject", "s3:PutObjectRetention"]
    resources = [local.stream_objects, local.blob_objects]
    condition {
      test     = "StringEquals"
      variable = "s3:object-lock-mode"
      values   = [var.retention_mode]
    }
  }
  statement {
    sid       = "ReadOwnStream"
    actions   = ["s3:GetObjectVersion"]
    resources = [local.stream_objects]
  }
  statement {
    sid       = "ReadRetentionToExtend"
    actions   = ["s3:GetObjectRetention"]
    resources = [local.stream_objects, local.blob_objects]
  }
  statement {
    sid       = "UseArchiveKey"
    actions   = ["kms:GenerateDataKey", "kms:Decrypt"]
    resources = [aws_kms_key.archive.arn]
  }
}

# auditor: `chatkeeper verify` and `export` by compliance officers. Read only.
data "aws_iam_policy_document" "auditor" {
  statement {
    sid       = "ListArchive"
    actions   = ["s3:ListBucketVersions"]
    resources = [local.bucket_arn]
  }
  statement {
    sid       = "ReadArchiveAndLocks"
    actions   = ["s3:GetObjectVersion", "s3:GetObjectRetention", "s3:GetObjectLegalHold"]
    resources = [local.all_objects]
  }
  statement {
    sid       = "DecryptArchive"
    actions   = ["kms:Decrypt"]
    resources = [aws_kms_key.archive.arn]
  }
}

# console: the officers' web console (search, read, export). Read only; it reads legal
# holds because verification (and an export's stream check) checks open matters' holds.
data "aws_iam_policy_document" "console" {
  statement {
    sid       = "ListArchive"
    actions   = ["s3:ListBucketVersions"]
    resources = [local.bucket_arn]
  }
  statement {
    sid       = "ReadArchiveAndLocks"
    actions   = ["s3:GetObjectVersion", "s3:GetObjectRetention", "s3:GetObjectLegalHold"]
    resources = [local.all_objects]
  }
  statement {
    sid       = "DecryptArchive"
    actions   = ["kms:Decrypt"]
    resources = [aws_kms_key.archive.arn]
  }
}

# legal: `hold create`, `hold release` and the seal-time holds of `seal` and `serve` turn
# legal hold on and off on the objects of a matter. The matters and the bundles in scope
# are read through the archiver (its journal and stream), so legal reads no object: it
# lists a blob's versions and sets the hold, nothing else.
data "aws_iam_policy_document" "legal" {
  statement {
    sid       = "ListBlobVersions"
    actions   = ["s3:ListBucketVersions"]
    resources = [local.bucket_arn]
    condition {
      test     = "StringLike"
      variable = "s3:prefix"
      values   = ["${var.prefix}blobs/*"]
    }
  }
  statement {
    sid       = "LegalHold"
    actions   = ["s3:PutObjectLegalHold"]
    resources = [local.stream_objects, local.blob_objects]
  }
}

# disposition: `chatkeeper dispose` plans from the manifests, each version's retention and
# legal hold, then deletes expired, unheld versions of records objects and blobs; manifests
# stay. Object Lock itself refuses any version still retained or held.
data "aws_iam_policy_document" "disposition" {
  statement {
    sid       = "ListArchive"
    actions   = ["s3:ListBucketVersions"]
    resources = [local.bucket_arn]
  }
  statement {
    sid       = "ReadManifestsAndLocks"
    actions   = ["s3:GetObjectVersion", "s3:GetObjectRetention", "s3:GetObjectLegalHold"]
    resources = [local.all_objects]
  }
  statement {
    sid       = "DeleteExpiredVersions"
    actions   = ["s3:DeleteObjectVersion"]
    resources = [local.records_objects, local.blob_objects]
  }
  statement {
    sid       = "DecryptManifests"
    actions   = ["kms:Decrypt"]
    resources = [aws_kms_key.archive.arn]
  }
}

data "aws_iam_policy_document" "assume" {
  for_each = local.duty_policies
  statement {
    actions = ["sts:AssumeRole"]
    principals {
      type        = "AWS"
      identifiers = var.trusted_principals[each.key]
    }
  }
}

resource "aws_iam_role" "duty" {
  for_each             = local.duty_policies
  name                 = "chatkeeper-${var.bucket_name}-${each.key}"
  assume_role_policy   = data.aws_iam_policy_document.assume[each.key].json
  max_session_duration = 3600
  tags                 = merge(var.tags, { "chatkeeper-duty" = each.key })
}

resource "aws_iam_role_policy" "duty" {
  for_each = local.duty_policies
  name     = "chatkeeper-${each.key}"
  role     = aws_iam_role.duty[each.key].id
  policy   = each.value
}
