mock_provider "aws" {
  mock_data "aws_iam_policy_document" {
    defaults = { json = "{}" }
  }
  mock_data "aws_caller_identity" {
    defaults = { account_id = "123456789012" }
  }
  mock_data "aws_region" {
    defaults = { name = "us-east-1" }
  }
  mock_data "aws_partition" {
    defaults = { partition = "aws" }
  }
}

variables {
  name = "perflab"
  # The zips need not exist when their hashes are given (make package passes both).
  packages = {
    download  = { path = "download.zip", source_code_hash = "ZG93bmxvYWQ=" }
    aggregate = { path = "aggregate.zip", source_code_hash = "YWdncmVnYXRl" }
    api       = { path = "api.zip", source_code_hash = "YXBp" }
  }
  subnet_ids         = ["subnet-0000000000000000a", "subnet-0000000000000000b"]
  security_group_ids = ["sg-0000000000000000a"]
  environment        = { PERFLAB_BUCKET = "perflab-artifacts", PERFLAB_RUNS_TABLE = "perflab-runs" }
  bucket_name        = "perflab-artifacts"
  table_names        = ["perflab-invocations", "perflab-runs"]
  secret_arns        = ["arn:aws:secretsmanager:us-east-1:123456789012:secret:rds!db-0000"]
  state_machine_name = "perflab-download-fanout"
  api_environment    = { PERFLAB_API_AUTH = "iam" }
}

run "functions_like_perflab_deploy" {
  command = plan

  assert {
    condition     = aws_lambda_function.this["download"].function_name == "perflab-download" && aws_lambda_function.this["download"].memory_size == 1024 && aws_lambda_function.this["download"].timeout == 120
    error_message = "download: 1024 MB, 120 s (perflab.deploy)"
  }
  assert {
    condition     = aws_lambda_function.this["aggregate"].memory_size == 512 && aws_lambda_function.this["aggregate"].timeout == 300 && aws_lambda_function.this["api"].timeout == 30
    error_message = "aggregate 512 MB / 300 s, api 30 s (perflab.deploy)"
  }
  assert {
    condition     = alltrue([for function in aws_lambda_function.this : function.handler == "handler.handler" && function.runtime == "python3.11"])
    error_message = "handler.handler on python3.11"
  }
  assert {
    condition     = aws_lambda_function.this["download"].reserved_concurrent_executions == 100 && alltrue([for function in aws_lambda_function.this : function.reserved_concurrent_executions > 0])
    error_message = "every function reserves concurrency, 100 for the download fan-out"
  }
  assert {
    condition     = alltrue([for function in aws_lambda_function.this : toset(one(function.vpc_config).subnet_ids) == toset(var.subnet_ids)])
    error_message = "every function runs in the private subnets"
  }
  assert {
    condition     = one(aws_lambda_function.this["api"].environment).variables["PERFLAB_STATE_MACHINE_ARN"] == "arn:aws:states:us-east-1:123456789012:stateMachine:perflab-download-fanout"
    error_message = "the api function knows the state machine"
  }
  assert {
    condition     = one(aws_lambda_function.this["api"].environment).variables["PERFLAB_API_AUTH"] == "iam" && !contains(keys(one(aws_lambda_function.this["download"].environment).variables), "PERFLAB_API_AUTH")
    error_message = "only the api function gets api_environment (PERFLAB_API_AUTH: the authorizer it trusts)"
  }
  assert {
    condition     = !contains(keys(one(aws_lambda_function.this["download"].environment).variables), "PERFLAB_STATE_MACHINE_ARN")
    error_message = "only the api function gets the state machine ARN"
  }
  assert {
    condition     = aws_iam_role.this["workload"].name == "perflab-lambda" && aws_iam_role.this["api"].name == "perflab-api"
    error_message = "download/aggregate share perflab-lambda (as locally); the api has its own role"
  }
  assert {
    condition     = output.download_function_arn == "arn:aws:lambda:us-east-1:123456789012:function:perflab-download"
    error_message = "function ARNs are known at plan time"
  }
  assert {
    condition     = alltrue([for group in aws_cloudwatch_log_group.this : group.retention_in_days == 30])
    error_message = "log groups expire"
  }
}

run "zero_reserved_concurrency_is_refused" {
  command = plan

  variables {
    reserved_concurrency = { download = 0 }
  }

  expect_failures = [var.reserved_concurrency]
}

run "packages_need_all_three" {
  command = plan

  variables {
    packages = {
      download = { path = "download.zip", source_code_hash = "ZG93bmxvYWQ=" }
    }
  }

  expect_failures = [var.packages]
}
