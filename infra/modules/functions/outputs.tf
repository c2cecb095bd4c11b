output "function_names" {
  description = "Function names by role: download, aggregate, api."
  value       = { for key, function in aws_lambda_function.this : key => function.function_name }
}

# ARNs built from names (known at plan time, so the state machine's policy is too); depends_on keeps
# the ordering a reference to the resource would give.
output "download_function_arn" {
  description = "ARN of the download function (the Map's lambda:invoke target)."
  value       = local.function_arns["download"]
  depends_on  = [aws_lambda_function.this]
}

output "aggregate_function_arn" {
  description = "ARN of the aggregate function."
  value       = local.function_arns["aggregate"]
  depends_on  = [aws_lambda_function.this]
}

output "api_function_arn" {
  description = "ARN of the api function."
  value       = local.function_arns["api"]
  depends_on  = [aws_lambda_function.this]
}

output "api_function_invoke_arn" {
  description = "Invoke ARN of the api function (the API Gateway integration URI)."
  value       = aws_lambda_function.this["api"].invoke_arn
}

output "role_arns" {
  description = "Execution role ARNs: workload (download and aggregate) and api."
  value       = { for key, role in aws_iam_role.this : key => role.arn }
}
