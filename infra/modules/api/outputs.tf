output "api_id" {
  description = "ID of the HTTP API."
  value       = aws_apigatewayv2_api.this.id
}

output "api_url" {
  description = "Base URL of the API (PERFLAB_API_URL for `perflab bench --api` / make bench-aws)."
  value       = aws_apigatewayv2_stage.this.invoke_url
}

output "execution_arn" {
  description = "Execution ARN of the API; callers with AWS_IAM need execute-api:Invoke on <execution_arn>/*/POST/health/performance/workload."
  value       = aws_apigatewayv2_api.this.execution_arn
}

output "route_keys" {
  description = "Route keys and whether each requires the authorizer."
  value       = local.routes
}
