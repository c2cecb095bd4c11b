output "api_url" {
  description = "Base URL of the trigger and results API (export PERFLAB_API_URL=...)."
  value       = module.api.api_url
}

output "api_execution_arn" {
  description = "Execution ARN of the API: AWS_IAM callers need execute-api:Invoke on <this>/*/POST/health/performance/workload."
  value       = module.api.execution_arn
}

output "state_machine_arn" {
  description = "ARN of the download fan-out state machine (PERFLAB_STATE_MACHINE_ARN)."
  value       = module.workflow.state_machine_arn
}

output "region" {
  description = "Region of the deployment (PERFLAB_REGION)."
  value       = var.region
}

output "bucket_name" {
  description = "Artifact bucket (PERFLAB_BUCKET): `perflab seed` uploads the artifact here."
  value       = module.artifact_store.bucket_name
}

output "invocations_table" {
  description = "Invocations table (PERFLAB_INVOCATIONS_TABLE)."
  value       = module.metrics.invocations_table_name
}

output "runs_table" {
  description = "Runs table (PERFLAB_RUNS_TABLE)."
  value       = module.metrics.runs_table_name
}

output "function_names" {
  description = "Lambda function names: download, aggregate, api."
  value       = module.functions.function_names
}

output "cluster_name" {
  description = "ECS cluster of the download tasks."
  value       = module.tasks.cluster_name
}

output "task_definition_arn" {
  description = "Task definition revision the state machine runs."
  value       = module.tasks.task_definition_arn
}

output "ecr_repository_url" {
  description = "ECR repository `make package` pushes the task image to (then set task_image_tag or task_image)."
  value       = module.tasks.repository_url
}

output "database_endpoint" {
  description = "PostgreSQL host the workload connects to (the RDS Proxy when enabled); private: reachable only from inside the VPC."
  value       = module.database.endpoint
}

output "database_secret_arn" {
  description = "Secrets Manager secret with the database master credentials."
  value       = module.database.secret_arn
}

output "private_subnet_ids" {
  description = "Private subnets of the functions and tasks."
  value       = module.network.private_subnet_ids
}

output "compute_security_group_id" {
  description = "Security group of the functions and tasks."
  value       = module.network.compute_security_group_id
}

output "workload_environment" {
  description = "The PERFLAB_* variables the functions and tasks get (no secrets in it)."
  value       = local.workload_environment
}
