# Example use of the module (values are placeholders).
module "chatkeeper_archive" {
  source            = "../.."
  bucket_name       = "example-chat-archive"
  stream            = "main"
  retention_mode    = "COMPLIANCE"
  retention_days    = 2557
  access_log_bucket = "example-access-logs"
  key_admin_arns    = ["arn:aws:iam::111122223333:role/security-key-admin"]
  trusted_principals = {
    archiver    = ["arn:aws:iam::111122223333:role/eks-chatkeeper-serve"]
    auditor     = ["arn:aws:iam::111122223333:role/compliance-officer"]
    console     = ["arn:aws:iam::111122223333:role/eks-chatkeeper-console"]
    legal       = ["arn:aws:iam::111122223333:role/legal-counsel"]
    disposition = ["arn:aws:iam::111122223333:role/records-manager"]
  }
}
