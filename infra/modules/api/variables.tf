variable "name" {
  description = "Name of the HTTP API (<name>-api, as perflab.deploy_api names it locally)."
  type        = string
}

variable "function_name" {
  description = "Name of the api Lambda function."
  type        = string
}

variable "function_invoke_arn" {
  description = "Invoke ARN of the api Lambda function (the AWS_PROXY integration URI)."
  type        = string
}

variable "authorization_type" {
  description = "Authorizer of POST /health/performance/workload: AWS_IAM (callers sign requests with SigV4 and need execute-api:Invoke) or JWT (an OIDC issuer such as a Cognito user pool)."
  type        = string
  default     = "AWS_IAM"

  validation {
    condition     = contains(["AWS_IAM", "JWT"], var.authorization_type)
    error_message = "authorization_type must be AWS_IAM or JWT."
  }
}

variable "jwt_issuer" {
  description = "JWT issuer URL (authorization_type = JWT), e.g. https://cognito-idp.<region>.amazonaws.com/<user pool id>."
  type        = string
  default     = null
}

variable "jwt_audience" {
  description = "Accepted JWT audiences (client ids) when authorization_type = JWT."
  type        = list(string)
  default     = []
}

variable "authorize_reads" {
  description = "Put the same authorizer on the GET routes (results, runs, progress, dashboard); false leaves them open, as locally."
  type        = bool
  default     = false
}

variable "throttling_burst_limit" {
  description = "Stage-wide burst limit (requests)."
  type        = number
  default     = 50
}

variable "throttling_rate_limit" {
  description = "Stage-wide steady rate limit (requests per second)."
  type        = number
  default     = 20
}

variable "log_retention_days" {
  description = "Retention of the access log group in days."
  type        = number
  default     = 30
}

variable "kms_key_arn" {
  description = "Customer-managed KMS key for the access log group; null uses CloudWatch Logs' own encryption."
  type        = string
  default     = null
}

variable "tags" {
  description = "Tags added to every resource."
  type        = map(string)
  default     = {}
}
