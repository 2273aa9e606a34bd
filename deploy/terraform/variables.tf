variable "bucket_name" {
  description = "Name of the archive bucket (created with Object Lock; it can never be turned off)."
  type        = string
}

variable "stream" {
  description = "chatkeeper archive.stream: the archiver may write only under <prefix>streams/<stream>/ and <prefix>blobs/."
  type        = string
  default     = "main"
}

variable "prefix" {
  description = "chatkeeper s3.prefix (empty, or ending with /)."
  type        = string
  default     = ""
}

variable "retention_mode" {
  description = "Default Object Lock mode of the bucket: COMPLIANCE (production) or GOVERNANCE (staging only)."
  type        = string
  default     = "COMPLIANCE"
  validation {
    condition     = contains(["COMPLIANCE", "GOVERNANCE"], var.retention_mode)
    error_message = "retention_mode must be COMPLIANCE or GOVERNANCE."
  }
}

variable "retention_days" {
  description = "Default retention in days (chatkeeper archive.retention_days; 2557 = 7 years)."
  type        = number
  default     = 2557
  validation {
    condition     = var.retention_days >= 1
    error_message = "retention_days must be at least 1."
  }
}

variable "kms_deletion_window_days" {
  description = "Waiting period before the KMS key is deleted once scheduled (7-30 days)."
  type        = number
  default     = 30
}

variable "key_admin_arns" {
  description = "Principals that administer the KMS key; only they may schedule its deletion or disable it."
  type        = list(string)
}

variable "trusted_principals" {
  description = "Per duty (archiver, auditor, legal, disposition, console): principal ARNs allowed to assume that role."
  type        = map(list(string))
}

variable "access_log_bucket" {
  description = "Existing bucket that receives the archive bucket's server access logs."
  type        = string
}

variable "tags" {
  description = "Tags for every resource."
  type        = map(string)
  default     = {}
}
