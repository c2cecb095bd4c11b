mock_provider "aws" {}

variables {
  name                = "perflab"
  function_name       = "perflab-api"
  function_invoke_arn = "arn:aws:apigateway:us-east-1:lambda:path/2015-03-31/functions/arn:aws:lambda:us-east-1:123456789012:function:perflab-api/invocations"
}

run "routes_and_iam_on_post" {
  command = plan

  assert {
    condition = toset(keys(aws_apigatewayv2_route.this)) == toset([
      "POST /health/performance/workload",
      "GET /health/performance/results/{run_id}",
      "GET /health/performance/runs",
      "GET /health/performance/runs/{run_id}/progress",
      "GET /",
    ])
    error_message = "the five routes of the API"
  }
  assert {
    condition     = aws_apigatewayv2_route.this["POST /health/performance/workload"].authorization_type == "AWS_IAM"
    error_message = "POST needs SigV4 (AWS_IAM) by default"
  }
  assert {
    condition     = aws_apigatewayv2_route.this["GET /health/performance/runs"].authorization_type == "NONE"
    error_message = "reads are open unless authorize_reads"
  }
  assert {
    condition     = aws_apigatewayv2_integration.this.payload_format_version == "2.0" && aws_apigatewayv2_integration.this.integration_type == "AWS_PROXY"
    error_message = "AWS_PROXY integration, payload format 2.0 (perflab.deploy_api)"
  }
  assert {
    condition     = aws_apigatewayv2_api.this.name == "perflab-api" && aws_apigatewayv2_stage.this.name == "$default" && aws_apigatewayv2_stage.this.auto_deploy
    error_message = "API perflab-api with an auto-deployed $default stage"
  }
  assert {
    condition     = aws_cloudwatch_log_group.access.retention_in_days == 30
    error_message = "access logs expire"
  }
}

run "jwt_on_every_route" {
  command = plan

  variables {
    authorization_type = "JWT"
    jwt_issuer         = "https://cognito-idp.us-east-1.amazonaws.com/us-east-1_example"
    jwt_audience       = ["perflab"]
    authorize_reads    = true
  }

  assert {
    condition     = length(aws_apigatewayv2_authorizer.jwt) == 1 && alltrue([for route in aws_apigatewayv2_route.this : route.authorization_type == "JWT"])
    error_message = "a JWT authorizer on every route"
  }
}

run "jwt_needs_an_issuer" {
  command = plan

  variables {
    authorization_type = "JWT"
  }

  expect_failures = [aws_apigatewayv2_authorizer.jwt]
}
