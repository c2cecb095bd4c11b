# The download fan-out state machine, rendered with templatefile() from the same ASL file perflab.deploy
# renders locally (perflab.asl.render): ${snake_case} placeholders inside JSON strings, nothing else
# (templatefile leaves the context paths $$.Map.Item.Value and $$.Execution.Input alone). Logging at
# level ALL, X-Ray tracing, and a role with only what the definition's states call.

data "aws_caller_identity" "current" {}
data "aws_partition" "current" {}
data "aws_region" "current" {}

locals {
  account   = data.aws_caller_identity.current.account_id
  partition = data.aws_partition.current.partition
  region    = data.aws_region.current.name

  state_machine_name = "${var.name}-download-fanout"
  state_machine_arn  = "arn:${local.partition}:states:${local.region}:${local.account}:stateMachine:${local.state_machine_name}"
  executions_arn     = "arn:${local.partition}:states:${local.region}:${local.account}:execution:${local.state_machine_name}"
  cluster_name       = element(split("/", var.cluster_arn), 1)

  definition_file = var.definition_file != null ? var.definition_file : "${path.module}/../../../state_machines/download_fanout.asl.json"
  template        = file(local.definition_file)
  placeholders = {
    download_function_arn  = var.download_function_arn
    aggregate_function_arn = var.aggregate_function_arn
    cluster_arn            = var.cluster_arn
    task_definition_arn    = var.task_definition_arn
    container_name         = var.container_name
    subnet_ids             = join(",", var.subnet_ids)
    security_group_ids     = join(",", var.security_group_ids)
    assign_public_ip       = var.assign_public_ip
    invocations_table      = var.invocations_table_name
    runs_table             = var.runs_table_name
  }
  # Every ${name} the template uses, as perflab.asl.placeholders() finds them.
  template_placeholders = toset(flatten(regexall("\\$\\{([a-z][a-z0-9_]*)\\}", local.template)))
  placeholders_match    = local.template_placeholders == toset(keys(local.placeholders))
  # Rendered only when the names agree, so a mismatch fails the precondition below (which names the
  # placeholders) rather than inside templatefile().
  definition = local.placeholders_match ? templatefile(local.definition_file, local.placeholders) : ""
  # Map states of the template (top level), for the precondition below.
  template_maps = [for state in values(jsondecode(local.template).States) : state if state.Type == "Map"]
}

# --- role ---------------------------------------------------------------------------------------------

data "aws_iam_policy_document" "trust" {
  statement {
    actions = ["sts:AssumeRole"]
    principals {
      type        = "Service"
      identifiers = ["states.amazonaws.com"]
    }
    condition {
      test     = "StringEquals"
      variable = "aws:SourceAccount"
      values   = [local.account]
    }
  }
}

data "aws_iam_policy_document" "this" {
  statement {
    sid       = "InvokeFunctions"
    actions   = ["lambda:InvokeFunction"]
    resources = [var.download_function_arn, var.aggregate_function_arn]
  }

  statement {
    sid       = "RunDownloadTask"
    actions   = ["ecs:RunTask"]
    resources = [var.task_definition_family_arn]
    condition {
      test     = "ArnEquals"
      variable = "ecs:cluster"
      values   = [var.cluster_arn]
    }
  }

  statement {
    sid       = "TrackDownloadTasks" # runTask.sync polls and, on timeout or abort, stops the task
    actions   = ["ecs:DescribeTasks", "ecs:StopTask"]
    resources = ["arn:${local.partition}:ecs:${local.region}:${local.account}:task/${local.cluster_name}/*"]
  }

  statement {
    sid       = "PassTaskRoles"
    actions   = ["iam:PassRole"]
    resources = var.task_role_arns
    condition {
      test     = "StringEquals"
      variable = "iam:PassedToService"
      values   = ["ecs-tasks.amazonaws.com"]
    }
  }

  statement {
    sid       = "EcsSyncEvents" # the managed rule runTask.sync uses to learn that a task stopped
    actions   = ["events:PutTargets", "events:PutRule", "events:DescribeRule"]
    resources = ["arn:${local.partition}:events:${local.region}:${local.account}:rule/StepFunctionsGetEventsForECSTaskRule"]
  }

  statement {
    sid       = "StartMapChildren" # Distributed Map children are executions of this state machine
    actions   = ["states:StartExecution"]
    resources = [local.state_machine_arn]
  }

  statement {
    sid       = "ManageMapChildren"
    actions   = ["states:DescribeExecution", "states:StopExecution"]
    resources = ["${local.executions_arn}/*:*"]
  }

  statement {
    sid       = "RecordInvocationFailure"
    actions   = ["dynamodb:PutItem"]
    resources = ["arn:${local.partition}:dynamodb:${local.region}:${local.account}:table/${var.invocations_table_name}"]
  }

  statement {
    sid       = "RecordRunFailure"
    actions   = ["dynamodb:UpdateItem"]
    resources = ["arn:${local.partition}:dynamodb:${local.region}:${local.account}:table/${var.runs_table_name}"]
  }

  statement {
    sid = "ExecutionLogs" # CloudWatch Logs vended delivery: these actions accept no resource but "*"
    actions = [
      "logs:CreateLogDelivery",
      "logs:GetLogDelivery",
      "logs:UpdateLogDelivery",
      "logs:DeleteLogDelivery",
      "logs:ListLogDeliveries",
      "logs:PutResourcePolicy",
      "logs:DescribeResourcePolicies",
      "logs:DescribeLogGroups",
    ]
    resources = ["*"]
  }

  dynamic "statement" {
    for_each = var.tracing ? [1] : []
    content {
      sid       = "XRay"
      actions   = ["xray:PutTraceSegments", "xray:PutTelemetryRecords", "xray:GetSamplingRules", "xray:GetSamplingTargets"]
      resources = ["*"]
    }
  }
}

resource "aws_iam_role" "this" {
  name               = "${var.name}-states" # as perflab.deploy names it
  assume_role_policy = data.aws_iam_policy_document.trust.json

  tags = var.tags
}

resource "aws_iam_role_policy" "this" {
  name   = "${var.name}-states"
  role   = aws_iam_role.this.id
  policy = data.aws_iam_policy_document.this.json
}

# --- state machine ------------------------------------------------------------------------------------

resource "aws_cloudwatch_log_group" "this" {
  # The /aws/vendedlogs/ prefix keeps CloudWatch Logs' resource policy small.
  name              = "/aws/vendedlogs/states/${local.state_machine_name}"
  retention_in_days = var.log_retention_days
  kms_key_id        = var.kms_key_arn

  tags = var.tags
}

resource "aws_sfn_state_machine" "this" {
  name       = local.state_machine_name
  type       = "STANDARD" # Distributed Map children wait on ECS (.sync): Express supports neither
  role_arn   = aws_iam_role.this.arn
  definition = local.definition

  logging_configuration {
    level                  = "ALL"
    include_execution_data = true
    log_destination        = "${aws_cloudwatch_log_group.this.arn}:*"
  }

  tracing_configuration {
    enabled = var.tracing
  }

  tags = var.tags

  lifecycle {
    precondition {
      condition     = local.placeholders_match
      error_message = "The ASL template's placeholders and the values given differ (a typo on either side): template uses ${join(", ", sort(local.template_placeholders))}."
    }
    precondition {
      condition     = length(local.template_maps) > 0 && alltrue([for state in local.template_maps : try(state.ItemProcessor.ProcessorConfig.Mode, "INLINE") == "DISTRIBUTED"])
      error_message = "Every top-level Map state must be a Distributed Map (an Inline Map runs at most 40 iterations at once)."
    }
  }

  depends_on = [aws_iam_role_policy.this]
}
