variable "name" {
  description = "Prefix of every resource name: the functions are <name>-download, <name>-aggregate and <name>-api."
  type        = string
}

variable "packages" {
  description = "Deployment packages built by `make package`: zip path per function (download, aggregate, api) and, optionally, its base64 SHA-256 (Lambda's CodeSha256; computed from the file when null). Terraform never builds them."
  type = map(object({
    path             = string
    source_code_hash = optional(string)
  }))

  validation {
    condition     = toset(keys(var.packages)) == toset(["aggregate", "api", "download"])
    error_message = "packages: exactly the keys download, aggregate and api."
  }
}

variable "runtime" {
  description = "Lambda runtime of the packages (their wheels are built for it)."
  type        = string
  default     = "python3.11"
}

variable "architecture" {
  description = "Instruction set of the packages' wheels: x86_64 or arm64 (about 20% cheaper per GB-second)."
  type        = string
  default     = "x86_64"

  validation {
    condition     = contains(["x86_64", "arm64"], var.architecture)
    error_message = "architecture must be x86_64 or arm64."
  }
}

variable "memory_mb" {
  description = "Memory per function in MB (1,769 MB = one vCPU). Defaults match perflab.deploy."
  type = object({
    download  = optional(number, 1024)
    aggregate = optional(number, 512)
    api       = optional(number, 512)
  })
  default = {}
}

variable "timeout_s" {
  description = "Timeout per function in seconds (download: PERFLAB_LAMBDA_TIMEOUT_S, 120 by default)."
  type = object({
    download  = optional(number, 120)
    aggregate = optional(number, 300)
    api       = optional(number, 30)
  })
  default = {}

  validation {
    condition     = alltrue([for value in values(var.timeout_s) : value >= 1 && value <= 900])
    error_message = "timeout_s: every timeout 1-900 seconds."
  }
}

variable "reserved_concurrency" {
  description = "Reserved concurrent executions per function. The download function needs one per Map item running at once (100 for the default fan-out); the account must keep 10 unreserved, so new accounts (limit 10) must ask for a quota increase first."
  type = object({
    download  = optional(number, 100)
    aggregate = optional(number, 5)
    api       = optional(number, 10)
  })
  default = {}

  validation {
    condition     = alltrue([for value in values(var.reserved_concurrency) : value >= 1])
    error_message = "reserved_concurrency: at least 1 per function (0 would disable it, -1 is unreserved)."
  }
}

variable "subnet_ids" {
  description = "Private subnets the functions run in."
  type        = list(string)
}

variable "security_group_ids" {
  description = "Security groups of the functions' network interfaces."
  type        = list(string)
}

variable "environment" {
  description = "PERFLAB_* / POWERTOOLS_* variables every function gets (perflab.config.Settings reads them)."
  type        = map(string)
}

variable "api_environment" {
  description = "Variables only the api function gets, e.g. PERFLAB_API_AUTH = iam | jwt (perflab.api: which API Gateway authorizer's verdict it trusts on POST)."
  type        = map(string)
  default     = {}
}

variable "bucket_name" {
  description = "Artifact bucket the download function reads."
  type        = string
}

variable "table_names" {
  description = "DynamoDB tables the functions read and write (invocations and runs)."
  type        = list(string)
}

variable "secret_arns" {
  description = "Secrets Manager secrets the download function may read (the database credentials)."
  type        = list(string)
  default     = []
}

variable "state_machine_name" {
  description = "Name of the download fan-out state machine the api function starts and reads."
  type        = string
}

variable "log_retention_days" {
  description = "Retention of the functions' log groups in days."
  type        = number
  default     = 30
}

variable "tracing" {
  description = "X-Ray active tracing (Powertools Tracer)."
  type        = bool
  default     = true
}

variable "kms_key_arn" {
  description = "Customer-managed KMS key for the environment variables and log groups; null uses AWS-managed keys."
  type        = string
  default     = null
}

variable "tags" {
  description = "Tags added to every resource."
  type        = map(string)
  default     = {}
}
