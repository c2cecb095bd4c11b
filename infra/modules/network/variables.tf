variable "name" {
  description = "Prefix of every resource name (the deployment's name, e.g. perflab)."
  type        = string

  validation {
    condition     = can(regex("^[a-z][a-z0-9-]{1,30}$", var.name))
    error_message = "name: 2-31 characters, lower-case letters, digits and hyphens, starting with a letter."
  }
}

variable "region" {
  description = "AWS region of the VPC (endpoint service names are com.amazonaws.<region>.<service>)."
  type        = string
}

variable "cidr_block" {
  description = "IPv4 CIDR block of the VPC."
  type        = string
  default     = "10.80.0.0/16"

  validation {
    condition     = can(cidrnetmask(var.cidr_block))
    error_message = "cidr_block must be an IPv4 CIDR block such as 10.80.0.0/16."
  }
}

variable "availability_zones" {
  description = "Availability zones of the private subnets, one subnet each (RDS and RDS Proxy need at least two)."
  type        = list(string)

  validation {
    condition     = length(var.availability_zones) >= 2 && length(var.availability_zones) == length(distinct(var.availability_zones))
    error_message = "availability_zones: at least two distinct zones."
  }
}

variable "interface_endpoints" {
  description = "Services reached through interface VPC endpoints (the subnets have no NAT gateway): Step Functions, CloudWatch Logs, ECR (API and registry) and Secrets Manager by default."
  type        = set(string)
  default     = ["states", "logs", "ecr.api", "ecr.dkr", "secretsmanager"]
}

variable "flow_logs_retention_days" {
  description = "Retention of the VPC flow log group in days; 0 turns flow logs off."
  type        = number
  default     = 30
}

variable "kms_key_arn" {
  description = "Customer-managed KMS key for the flow log group; null uses CloudWatch Logs' own encryption."
  type        = string
  default     = null
}

variable "tags" {
  description = "Tags added to every resource."
  type        = map(string)
  default     = {}
}
