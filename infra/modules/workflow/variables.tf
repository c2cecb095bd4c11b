variable "name" {
  description = "Prefix of every resource name: the state machine is <name>-download-fanout, its role <name>-states."
  type        = string
}

variable "definition_file" {
  description = "ASL template rendered with templatefile(); null is the repository's state_machines/download_fanout.asl.json, the file perflab.deploy renders locally."
  type        = string
  default     = null
}

variable "download_function_arn" {
  description = "ARN of the download function (placeholder download_function_arn)."
  type        = string
}

variable "aggregate_function_arn" {
  description = "ARN of the aggregate function (placeholder aggregate_function_arn)."
  type        = string
}

variable "cluster_arn" {
  description = "ARN of the ECS cluster the download tasks run in (placeholder cluster_arn)."
  type        = string
}

variable "task_definition_arn" {
  description = "ARN of the download task definition revision to run (placeholder task_definition_arn)."
  type        = string
}

variable "task_definition_family_arn" {
  description = "ARN pattern of the task definition family (arn:...:task-definition/<family>:*) that ecs:RunTask is allowed on."
  type        = string
}

variable "container_name" {
  description = "Container of the task definition that gets the per-item environment (placeholder container_name)."
  type        = string
  default     = "download"
}

variable "task_role_arns" {
  description = "Roles of the task definition (task and execution role) the state machine may pass to ECS."
  type        = list(string)
}

variable "subnet_ids" {
  description = "Subnets of the download tasks (placeholder subnet_ids, comma-joined)."
  type        = list(string)
}

variable "security_group_ids" {
  description = "Security groups of the download tasks (placeholder security_group_ids, comma-joined)."
  type        = list(string)
}

variable "assign_public_ip" {
  description = "Whether download tasks get a public IP (placeholder assign_public_ip): DISABLED in private subnets."
  type        = string
  default     = "DISABLED"

  validation {
    condition     = contains(["ENABLED", "DISABLED"], var.assign_public_ip)
    error_message = "assign_public_ip must be ENABLED or DISABLED."
  }
}

variable "invocations_table_name" {
  description = "Invocations table (placeholder invocations_table): the state machine records invocations that left no record."
  type        = string
}

variable "runs_table_name" {
  description = "Runs table (placeholder runs_table): the state machine marks failed runs."
  type        = string
}

variable "log_retention_days" {
  description = "Retention of the execution log group in days."
  type        = number
  default     = 30
}

variable "tracing" {
  description = "X-Ray tracing of executions."
  type        = bool
  default     = true
}

variable "kms_key_arn" {
  description = "Customer-managed KMS key for the log group; null uses CloudWatch Logs' own encryption."
  type        = string
  default     = null
}

variable "tags" {
  description = "Tags added to every resource."
  type        = map(string)
  default     = {}
}
