output "state_machine_arn" {
  description = "ARN of the download fan-out state machine (built from its name, so it is known at plan time)."
  value       = local.state_machine_arn
  depends_on  = [aws_sfn_state_machine.this]
}

output "state_machine_name" {
  description = "Name of the download fan-out state machine."
  value       = aws_sfn_state_machine.this.name
}

output "role_arn" {
  description = "ARN of the state machine's role."
  value       = aws_iam_role.this.arn
}

output "log_group_name" {
  description = "Log group of the executions (level ALL)."
  value       = aws_cloudwatch_log_group.this.name
}

output "definition" {
  description = "The rendered ASL definition."
  value       = local.definition
}
