output "invocations_table_name" {
  description = "Name of the invocations table (PERFLAB_INVOCATIONS_TABLE)."
  value       = aws_dynamodb_table.this["invocations"].name
}

output "runs_table_name" {
  description = "Name of the runs table (PERFLAB_RUNS_TABLE)."
  value       = aws_dynamodb_table.this["runs"].name
}

output "table_arns" {
  description = "ARNs of both tables."
  value       = [for table in aws_dynamodb_table.this : table.arn]
}
