variable "region" {
  description = "AWS region of the deployment (PERFLAB_REGION)."
  type        = string
  default     = "us-east-1"
}

variable "name" {
  description = "Prefix of every resource name (functions <name>-download, cluster <name>, state machine <name>-download-fanout...)."
  type        = string
  default     = "perflab"
}

variable "aws_endpoint_url" {
  description = "Send every AWS call to this AWS-compatible endpoint instead of AWS (the local cloud, or make infra-check's offline stub); null = AWS."
  type        = string
  default     = null
}

variable "availability_zones" {
  description = "Availability zones of the private subnets; null = the region's first two available zones."
  type        = list(string)
  default     = null
}

variable "download_zip_path" {
  description = "The download function's zip from `make package` (build/package/package.auto.tfvars.json sets it; a relative path is relative to infra/envs/dev)."
  type        = string
  default     = "../../../build/package/download.zip"
}

variable "download_zip_sha256" {
  description = "Base64 SHA-256 of the download zip (Lambda's CodeSha256, from `make package`); null = computed from the file."
  type        = string
  default     = null
}

variable "aggregate_zip_path" {
  description = "The aggregate function's zip from `make package` (build/package/package.auto.tfvars.json sets it; a relative path is relative to infra/envs/dev)."
  type        = string
  default     = "../../../build/package/aggregate.zip"
}

variable "aggregate_zip_sha256" {
  description = "Base64 SHA-256 of the aggregate zip (Lambda's CodeSha256, from `make package`); null = computed from the file."
  type        = string
  default     = null
}

variable "api_zip_path" {
  description = "The api function's zip from `make package` (build/package/package.auto.tfvars.json sets it; a relative path is relative to infra/envs/dev)."
  type        = string
  default     = "../../../build/package/api.zip"
}

variable "api_zip_sha256" {
  description = "Base64 SHA-256 of the api zip (Lambda's CodeSha256, from `make package`); null = computed from the file."
  type        = string
  default     = null
}

variable "lambda_architecture" {
  description = "Architecture the Lambda zips' wheels were built for: x86_64 or arm64."
  type        = string
  default     = "x86_64"
}

variable "task_image" {
  description = "Full reference of the download task image (e.g. <ecr_repository_url>@sha256:<digest>); null = <ecr_repository_url>:<task_image_tag>."
  type        = string
  default     = null
}

variable "task_image_tag" {
  description = "Tag pushed to the created ECR repository by `make package` (used when task_image is null)."
  type        = string
  default     = "latest"
}

variable "task_cpu_architecture" {
  description = "CPU architecture of the task image: X86_64 or ARM64."
  type        = string
  default     = "X86_64"
}

variable "bucket_name" {
  description = "Artifact bucket name (PERFLAB_BUCKET); null = <name>-artifacts-<account id>-<region>, unique per account and region."
  type        = string
  default     = null
}

variable "invocations_table" {
  description = "DynamoDB table with one record per invocation (PERFLAB_INVOCATIONS_TABLE)."
  type        = string
  default     = "perflab-invocations"
}

variable "runs_table" {
  description = "DynamoDB table with one item per run (PERFLAB_RUNS_TABLE)."
  type        = string
  default     = "perflab-runs"
}

variable "chunk_bytes" {
  description = "Streaming chunk size of downloads (PERFLAB_CHUNK_BYTES)."
  type        = number
  default     = 1048576
}

variable "lambda_timeout_s" {
  description = "Timeout of the download function in seconds (PERFLAB_LAMBDA_TIMEOUT_S)."
  type        = number
  default     = 120
}

variable "reserved_concurrency" {
  description = "Reserved concurrent executions of the download, aggregate and api functions (the account keeps 10 unreserved: check its concurrency quota first)."
  type = object({
    download  = optional(number, 100)
    aggregate = optional(number, 5)
    api       = optional(number, 10)
  })
  default = {}
}

variable "db_instance_class" {
  description = "RDS instance class of the artifact database."
  type        = string
  default     = "db.t4g.micro"
}

variable "enable_rds_proxy" {
  description = "RDS Proxy in front of the database (a 100-way fan-out exceeds a micro instance's max_connections)."
  type        = bool
  default     = true
}

variable "api_authorization_type" {
  description = "Authorizer of POST /health/performance/workload: AWS_IAM (SigV4) or JWT."
  type        = string
  default     = "AWS_IAM"
}

variable "api_jwt_issuer" {
  description = "JWT issuer URL when api_authorization_type = JWT."
  type        = string
  default     = null
}

variable "api_jwt_audience" {
  description = "Accepted JWT audiences when api_authorization_type = JWT."
  type        = list(string)
  default     = []
}

variable "api_authorize_reads" {
  description = "Require the authorizer on the GET routes too."
  type        = bool
  default     = false
}

variable "log_retention_days" {
  description = "Retention in days of every log group."
  type        = number
  default     = 30
}

variable "force_destroy" {
  description = "Let terraform destroy remove the bucket and repository with their contents (a dev environment)."
  type        = bool
  default     = true
}

variable "tags" {
  description = "Tags added to every resource (Project, Environment and ManagedBy are always set)."
  type        = map(string)
  default     = {}
}
