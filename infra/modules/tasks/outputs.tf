output "cluster_name" {
  description = "Name of the ECS cluster."
  value       = aws_ecs_cluster.this.name
}

output "cluster_arn" {
  description = "ARN of the ECS cluster (built from the name, so it is known at plan time)."
  value       = "arn:${local.partition}:ecs:${local.region}:${local.account}:cluster/${var.name}"
  depends_on  = [aws_ecs_cluster.this]
}

output "task_definition_arn" {
  description = "ARN of the task definition's current revision (the state machine runs exactly this revision)."
  value       = aws_ecs_task_definition.this.arn
}

output "task_definition_family" {
  description = "Family of the task definition."
  value       = aws_ecs_task_definition.this.family
}

output "task_definition_family_arn" {
  description = "ARN pattern of every revision of the family (arn:...:task-definition/<family>:*), for IAM."
  value       = "arn:${local.partition}:ecs:${local.region}:${local.account}:task-definition/${local.family}:*"
}

output "container_name" {
  description = "Name of the container the state machine overrides."
  value       = local.container_name
}

output "role_arns" {
  description = "ARNs of the task role and the execution role, which the state machine passes to ECS (built from names, so they are known at plan time)."
  value = [
    "arn:${local.partition}:iam::${local.account}:role/${aws_iam_role.task.name}",
    "arn:${local.partition}:iam::${local.account}:role/${aws_iam_role.execution.name}",
  ]
}

output "task_role_arn" {
  description = "ARN of the task role."
  value       = aws_iam_role.task.arn
}

output "execution_role_arn" {
  description = "ARN of the execution role."
  value       = aws_iam_role.execution.arn
}

output "repository_url" {
  description = "URL of the ECR repository `make package` pushes the download task image to."
  value       = aws_ecr_repository.this.repository_url
}

output "log_group_name" {
  description = "Log group of the task's container."
  value       = aws_cloudwatch_log_group.this.name
}
