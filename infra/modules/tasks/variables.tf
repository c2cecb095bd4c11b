variable "name" {
  description = "Prefix of every resource name: cluster <name>, task family <name>-download, repository <name>-download-task."
  type        = string
}

variable "image" {
  description = "Full image reference of the download task (e.g. <repository URL>@sha256:<digest> from `make package`); null uses the repository this module creates with image_tag."
  type        = string
  default     = null
}

variable "image_tag" {
  description = "Tag of the image in the created repository (used when image is null). Tags are immutable by default: push each build under a new tag."
  type        = string
  default     = "latest"
}

variable "image_tag_mutability" {
  description = "ECR tag mutability: IMMUTABLE (default; a tag always names the same image) or MUTABLE."
  type        = string
  default     = "IMMUTABLE"

  validation {
    condition     = contains(["IMMUTABLE", "MUTABLE"], var.image_tag_mutability)
    error_message = "image_tag_mutability must be IMMUTABLE or MUTABLE."
  }
}

variable "cpu" {
  description = "Task CPU units (1024 = 1 vCPU, as perflab.deploy registers locally)."
  type        = number
  default     = 1024
}

variable "memory_mb" {
  description = "Task memory in MiB (2048 = 2 GB, as perflab.deploy registers locally)."
  type        = number
  default     = 2048
}

variable "cpu_architecture" {
  description = "CPU architecture of the image: X86_64 or ARM64 (Fargate ARM is about 20% cheaper)."
  type        = string
  default     = "X86_64"

  validation {
    condition     = contains(["X86_64", "ARM64"], var.cpu_architecture)
    error_message = "cpu_architecture must be X86_64 or ARM64."
  }
}

variable "environment" {
  description = "PERFLAB_* / POWERTOOLS_* variables of the container (the state machine adds RUN_ID, INDEX, RUN_REQUEST... as overrides)."
  type        = map(string)
}

variable "secrets" {
  description = "Container variables read from Secrets Manager at task start: name => valueFrom (a secret ARN, optionally with :json-key::)."
  type        = map(string)
  default     = {}
}

variable "secret_arns" {
  description = "Secrets the execution role may read to fill `secrets` (whole-secret ARNs)."
  type        = list(string)
  default     = []
}

variable "bucket_name" {
  description = "Artifact bucket the task reads."
  type        = string
}

variable "table_names" {
  description = "DynamoDB tables the task writes its record to."
  type        = list(string)
}

variable "container_insights" {
  description = "CloudWatch Container Insights on the cluster."
  type        = bool
  default     = true
}

variable "log_retention_days" {
  description = "Retention of the task log group in days."
  type        = number
  default     = 30
}

variable "force_delete_repository" {
  description = "Let terraform destroy delete the repository while it still holds images (dev teardown)."
  type        = bool
  default     = false
}

variable "kms_key_arn" {
  description = "Customer-managed KMS key for the repository and the log group; null uses AWS-managed encryption."
  type        = string
  default     = null
}

variable "tags" {
  description = "Tags added to every resource."
  type        = map(string)
  default     = {}
}
