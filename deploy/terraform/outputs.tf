output "bucket" {
  description = "Archive bucket name (chatkeeper s3.bucket)."
  value       = aws_s3_bucket.archive.id
}

output "kms_key_arn" {
  description = "KMS key encrypting the archive."
  value       = aws_kms_key.archive.arn
}

output "role_arns" {
  description = "IAM role ARN per duty."
  value       = { for duty, role in aws_iam_role.duty : duty => role.arn }
}
