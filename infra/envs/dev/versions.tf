terraform {
  required_version = ">= 1.7.0"

  required_providers {
    aws = {
      source  = "hashicorp/aws"
      version = "5.100.0" # exactly what infra/terraform.rc's filesystem mirror holds; see .terraform.lock.hcl
    }
  }

  # State is local (terraform.tfstate here, git-ignored). For a shared deployment add an S3 backend:
  #   backend "s3" { bucket = "<state bucket>", key = "perflab/dev.tfstate", region = "us-east-1", use_lockfile = true }
}
