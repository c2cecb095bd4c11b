variable "name" {
  description = "Prefix of every resource name; the DB instance is <name>-postgres."
  type        = string
}

variable "vpc_id" {
  description = "VPC of the database and its proxy."
  type        = string
}

variable "subnet_ids" {
  description = "Private subnets (at least two availability zones) of the DB subnet group and the proxy."
  type        = list(string)

  validation {
    condition     = length(var.subnet_ids) >= 2
    error_message = "subnet_ids: RDS and RDS Proxy need subnets in at least two availability zones."
  }
}

variable "client_security_group_ids" {
  description = "Security groups allowed to connect on port 5432 (the Lambda functions' and Fargate tasks' group)."
  type        = list(string)
}

variable "instance_class" {
  description = "RDS instance class. db.t4g.micro allows roughly 80-110 connections: the 100-way fan-out needs the proxy or a bounded MaxConcurrency."
  type        = string
  default     = "db.t4g.micro"
}

variable "engine_version" {
  description = "PostgreSQL engine version (a major version picks RDS's default minor)."
  type        = string
  default     = "17"
}

variable "allocated_storage_gb" {
  description = "Initial gp3 storage in GiB."
  type        = number
  default     = 20
}

variable "max_allocated_storage_gb" {
  description = "Storage autoscaling ceiling in GiB (0 turns autoscaling off)."
  type        = number
  default     = 100
}

variable "database_name" {
  description = "Database that holds the artifact tables and model registry."
  type        = string
  default     = "perflab"
}

variable "master_username" {
  description = "Master user name; RDS generates its password into a Secrets Manager secret (never in Terraform state)."
  type        = string
  default     = "perflab"
}

variable "multi_az" {
  description = "Standby in a second availability zone (doubles the instance cost)."
  type        = bool
  default     = false
}

variable "backup_retention_days" {
  description = "Automated backup retention in days (1-35)."
  type        = number
  default     = 7

  validation {
    condition     = var.backup_retention_days >= 1 && var.backup_retention_days <= 35
    error_message = "backup_retention_days must be 1-35."
  }
}

variable "deletion_protection" {
  description = "Refuse to delete the instance (turn off before terraform destroy)."
  type        = bool
  default     = false
}

variable "skip_final_snapshot" {
  description = "Delete without a final snapshot (dev teardown); false keeps <name>-postgres-final."
  type        = bool
  default     = true
}

variable "kms_key_arn" {
  description = "Customer-managed KMS key for storage, Performance Insights and the master secret; null uses the AWS-managed keys."
  type        = string
  default     = null
}

variable "performance_insights_enabled" {
  description = "Performance Insights (not offered on every micro instance class and engine version: check before enabling)."
  type        = bool
  default     = false
}

variable "enable_proxy" {
  description = "Put an RDS Proxy in front of the instance so a 100-way fan-out shares a bounded connection pool."
  type        = bool
  default     = true
}

variable "proxy_max_connections_percent" {
  description = "Share of the instance's max_connections the proxy may open."
  type        = number
  default     = 90
}

variable "log_retention_days" {
  description = "Retention in days of the exported PostgreSQL logs."
  type        = number
  default     = 30
}

variable "tags" {
  description = "Tags added to every resource."
  type        = map(string)
  default     = {}
}
