variable "invocations_table_name" {
  description = "DynamoDB table with one record per invocation (PERFLAB_INVOCATIONS_TABLE); key run_id (S) + index (N)."
  type        = string
  default     = "perflab-invocations"
}

variable "runs_table_name" {
  description = "DynamoDB table with one item per run (PERFLAB_RUNS_TABLE); key run_id (S)."
  type        = string
  default     = "perflab-runs"
}

variable "kms_key_arn" {
  description = "Customer-managed KMS key for the tables; null uses the AWS-managed key (alias/aws/dynamodb)."
  type        = string
  default     = null
}

variable "deletion_protection" {
  description = "Refuse to delete the tables (turn off before terraform destroy)."
  type        = bool
  default     = false
}

variable "tags" {
  description = "Tags added to every resource."
  type        = map(string)
  default     = {}
}
