# chatkeeper archive on AWS: the Object Lock bucket, its KMS key and one IAM role per duty.
terraform {
  required_version = ">= 1.6.0"
  required_providers {
    aws = {
      source  = "hashicorp/aws"
      version = "~> 5.80"
    }
  }
}
