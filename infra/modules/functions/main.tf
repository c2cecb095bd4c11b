# The three Lambda functions perflab.deploy creates locally, from the zips `make package` builds: the
# download function (one Map item), the aggregate function (the run summary) and the api function (the
# trigger and results API behind API Gateway). All run in the private subnets.

data "aws_caller_identity" "current" {}
data "aws_partition" "current" {}
data "aws_region" "current" {}

locals {
  account   = data.aws_caller_identity.current.account_id
  partition = data.aws_partition.current.partition
  region    = data.aws_region.current.name

  functions = {
    download  = { role = "workload", handler = "handler.handler" }
    aggregate = { role = "workload", handler = "handler.handler" }
    api       = { role = "api", handler = "handler.handler" }
  }
  function_names = { for key in keys(local.functions) : key => "${var.name}-${key}" }
  # ARNs built from names, so policies that name them are known at plan time (compliance reads them).
  function_arns = {
    for key, function_name in local.function_names :
    key => "arn:${local.partition}:lambda:${local.region}:${local.account}:function:${function_name}"
  }

  table_arns        = [for table in var.table_names : "arn:${local.partition}:dynamodb:${local.region}:${local.account}:table/${table}"]
  bucket_arn        = "arn:${local.partition}:s3:::${var.bucket_name}"
  state_machine_arn = "arn:${local.partition}:states:${local.region}:${local.account}:stateMachine:${var.state_machine_name}"
  executions_arn    = "arn:${local.partition}:states:${local.region}:${local.account}:execution:${var.state_machine_name}"
  map_runs_arn      = "arn:${local.partition}:states:${local.region}:${local.account}:mapRun:${var.state_machine_name}"
  log_group_arns = {
    for key, function_name in local.function_names :
    key => "arn:${local.partition}:logs:${local.region}:${local.account}:log-group:/aws/lambda/${function_name}"
  }

  environment = {
    workload = var.environment
    api      = merge(var.environment, var.api_environment, { PERFLAB_STATE_MACHINE_ARN = local.state_machine_arn })
  }
}

# --- roles --------------------------------------------------------------------------------------------

data "aws_iam_policy_document" "trust" {
  statement {
    actions = ["sts:AssumeRole"]
    principals {
      type        = "Service"
      identifiers = ["lambda.amazonaws.com"]
    }
  }
}

# download + aggregate: write records, read the artifact, read the database secret.
data "aws_iam_policy_document" "workload" {
  statement {
    sid       = "Records"
    actions   = ["dynamodb:GetItem", "dynamodb:PutItem", "dynamodb:UpdateItem", "dynamodb:Query"]
    resources = local.table_arns
  }

  statement {
    sid       = "ReadArtifacts"
    actions   = ["s3:GetObject"]
    resources = ["${local.bucket_arn}/*"]
  }

  statement {
    sid       = "ListArtifacts"
    actions   = ["s3:ListBucket"]
    resources = [local.bucket_arn]
  }

  statement {
    sid       = "FunctionLogs"
    actions   = ["logs:CreateLogStream", "logs:PutLogEvents"]
    resources = [for key in ["download", "aggregate"] : "${local.log_group_arns[key]}:*"]
  }
}

data "aws_iam_policy_document" "workload_secrets" {
  count = length(var.secret_arns) > 0 ? 1 : 0

  statement {
    sid       = "DatabaseCredentials"
    actions   = ["secretsmanager:GetSecretValue"]
    resources = var.secret_arns
  }
}

# api: runs table and records (read/write), start the state machine, read executions for the dashboard.
data "aws_iam_policy_document" "api" {
  statement {
    sid       = "Runs"
    actions   = ["dynamodb:GetItem", "dynamodb:PutItem", "dynamodb:UpdateItem", "dynamodb:Query", "dynamodb:Scan"]
    resources = local.table_arns
  }

  statement {
    sid       = "StartRuns"
    actions   = ["states:StartExecution"]
    resources = [local.state_machine_arn]
  }

  statement {
    sid       = "ReadStateMachine"
    actions   = ["states:DescribeStateMachine"]
    resources = [local.state_machine_arn]
  }

  statement {
    sid     = "ReadExecutions"
    actions = ["states:DescribeExecution", "states:GetExecutionHistory", "states:ListMapRuns"]
    # The runs' executions and the Distributed Map's child executions (<machine>/<map run id>:<id>).
    resources = ["${local.executions_arn}:*", "${local.executions_arn}/*"]
  }

  # The trigger checks model and version against the registry perflab seed writes (models/*/metadata.json).
  statement {
    sid       = "ReadModelRegistry"
    actions   = ["s3:GetObject"]
    resources = ["${local.bucket_arn}/models/*"]
  }

  statement {
    sid       = "ListModelRegistry"
    actions   = ["s3:ListBucket"]
    resources = [local.bucket_arn]
    condition {
      test     = "StringLike"
      variable = "s3:prefix"
      values   = ["models/*"]
    }
  }

  statement {
    sid       = "ReadMapRuns"
    actions   = ["states:DescribeMapRun"]
    resources = ["${local.map_runs_arn}/*"]
  }

  statement {
    sid       = "FunctionLogs"
    actions   = ["logs:CreateLogStream", "logs:PutLogEvents"]
    resources = ["${local.log_group_arns["api"]}:*"]
  }
}

resource "aws_iam_role" "this" {
  for_each = toset(["workload", "api"])

  # perflab.deploy names the download/aggregate role <name>-lambda.
  name               = each.key == "workload" ? "${var.name}-lambda" : "${var.name}-api"
  assume_role_policy = data.aws_iam_policy_document.trust.json

  tags = var.tags
}

resource "aws_iam_role_policy" "workload" {
  name   = "${var.name}-lambda"
  role   = aws_iam_role.this["workload"].id
  policy = data.aws_iam_policy_document.workload.json
}

resource "aws_iam_role_policy" "workload_secrets" {
  count = length(var.secret_arns) > 0 ? 1 : 0

  name   = "${var.name}-lambda-secrets"
  role   = aws_iam_role.this["workload"].id
  policy = data.aws_iam_policy_document.workload_secrets[0].json
}

resource "aws_iam_role_policy" "api" {
  name   = "${var.name}-api"
  role   = aws_iam_role.this["api"].id
  policy = data.aws_iam_policy_document.api.json
}

# ENI management for the VPC config and X-Ray segments: these actions accept no resource but "*"
# (the same actions as AWSLambdaVPCAccessExecutionRole and AWSXRayDaemonWriteAccess, without their
# account-wide logs permissions).
data "aws_iam_policy_document" "runtime" {
  #checkov:skip=CKV_AWS_111:ec2 network-interface and X-Ray write actions accept no resource but "*" (Lambda's VPC access needs them).
  #checkov:skip=CKV_AWS_356:Same statements: these actions have no resource-level permissions to restrict to.
  statement {
    sid = "VpcNetworkInterfaces"
    actions = [
      "ec2:CreateNetworkInterface",
      "ec2:DescribeNetworkInterfaces",
      "ec2:DescribeSubnets",
      "ec2:DeleteNetworkInterface",
      "ec2:AssignPrivateIpAddresses",
      "ec2:UnassignPrivateIpAddresses",
    ]
    resources = ["*"]
  }

  dynamic "statement" {
    for_each = var.tracing ? [1] : []
    content {
      sid       = "XRay"
      actions   = ["xray:PutTraceSegments", "xray:PutTelemetryRecords"]
      resources = ["*"]
    }
  }
}

resource "aws_iam_role_policy" "runtime" {
  for_each = aws_iam_role.this

  name   = "${each.value.name}-runtime"
  role   = each.value.id
  policy = data.aws_iam_policy_document.runtime.json
}

# --- functions ----------------------------------------------------------------------------------------

resource "aws_cloudwatch_log_group" "this" {
  for_each = local.function_names

  name              = "/aws/lambda/${each.value}"
  retention_in_days = var.log_retention_days
  kms_key_id        = var.kms_key_arn

  tags = var.tags
}

resource "aws_lambda_function" "this" {
  for_each = local.functions

  function_name = local.function_names[each.key]
  role          = aws_iam_role.this[each.value.role].arn
  handler       = each.value.handler
  runtime       = var.runtime
  architectures = [var.architecture]
  memory_size   = var.memory_mb[each.key]
  timeout       = var.timeout_s[each.key]

  filename         = var.packages[each.key].path
  source_code_hash = var.packages[each.key].source_code_hash != null ? var.packages[each.key].source_code_hash : filebase64sha256(var.packages[each.key].path)

  reserved_concurrent_executions = var.reserved_concurrency[each.key]
  kms_key_arn                    = var.kms_key_arn

  environment {
    variables = local.environment[each.value.role]
  }

  vpc_config {
    subnet_ids         = var.subnet_ids
    security_group_ids = var.security_group_ids
  }

  tracing_config {
    mode = var.tracing ? "Active" : "PassThrough"
  }

  logging_config {
    log_format = "Text"
    log_group  = aws_cloudwatch_log_group.this[each.key].name
  }

  tags = var.tags

  depends_on = [
    aws_iam_role_policy.workload,
    aws_iam_role_policy.api,
    aws_iam_role_policy.runtime,
  ]
}
