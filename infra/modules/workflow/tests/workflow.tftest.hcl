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
  name                       = "perflab"
  download_function_arn      = "arn:aws:lambda:us-east-1:123456789012:function:perflab-download"
  aggregate_function_arn     = "arn:aws:lambda:us-east-1:123456789012:function:perflab-aggregate"
  cluster_arn                = "arn:aws:ecs:us-east-1:123456789012:cluster/perflab"
  task_definition_arn        = "arn:aws:ecs:us-east-1:123456789012:task-definition/perflab-download:3"
  task_definition_family_arn = "arn:aws:ecs:us-east-1:123456789012:task-definition/perflab-download:*"
  task_role_arns             = ["arn:aws:iam::123456789012:role/perflab-task"]
  subnet_ids                 = ["subnet-a", "subnet-b"]
  security_group_ids         = ["sg-a"]
  invocations_table_name     = "perflab-invocations"
  runs_table_name            = "perflab-runs"
}

run "renders_the_shared_asl_file" {
  command = plan

  assert {
    condition     = jsondecode(aws_sfn_state_machine.this.definition).StartAt == jsondecode(file("${path.module}/../../../state_machines/download_fanout.asl.json")).StartAt
    error_message = "the definition is the repository's download_fanout.asl.json"
  }
  assert {
    condition     = length(regexall("\\$\\{", aws_sfn_state_machine.this.definition)) == 0
    error_message = "every placeholder is rendered"
  }
  assert {
    condition     = length(regexall("\\$\\$\\.Map\\.Item\\.Value", aws_sfn_state_machine.this.definition)) == 1
    error_message = "context paths ($$.Map.Item.Value) survive templatefile()"
  }
  assert {
    condition     = jsondecode(aws_sfn_state_machine.this.definition).States.Fanout.ItemProcessor.ProcessorConfig.Mode == "DISTRIBUTED"
    error_message = "the fan-out is a Distributed Map"
  }
  assert {
    condition     = jsondecode(aws_sfn_state_machine.this.definition).States.Fanout.ItemProcessor.States.InvokeDownload.Parameters.FunctionName == var.download_function_arn
    error_message = "the download function ARN is rendered into the Map's lambda:invoke"
  }
  assert {
    condition     = jsondecode(aws_sfn_state_machine.this.definition).States.Fanout.ItemProcessor.States.RunDownloadTask.Parameters.NetworkConfiguration.AwsvpcConfiguration["Subnets.$"] == "States.StringSplit('subnet-a,subnet-b', ',')"
    error_message = "subnets are rendered comma-joined"
  }
  assert {
    condition     = one(aws_sfn_state_machine.this.logging_configuration).level == "ALL" && one(aws_sfn_state_machine.this.logging_configuration).include_execution_data
    error_message = "logging level ALL with execution data"
  }
  assert {
    condition     = aws_sfn_state_machine.this.type == "STANDARD" && aws_sfn_state_machine.this.name == "perflab-download-fanout"
    error_message = "a STANDARD state machine named as perflab.deploy names it"
  }
  assert {
    condition     = aws_iam_role.this.name == "perflab-states" && aws_cloudwatch_log_group.this.retention_in_days == 30
    error_message = "role perflab-states; execution logs expire"
  }
}

run "an_inline_map_is_refused" {
  command = plan

  variables {
    definition_file = "tests/fixtures/inline_map.asl.json"
  }

  expect_failures = [aws_sfn_state_machine.this]
}

run "a_placeholder_without_value_is_refused" {
  command = plan

  variables {
    definition_file = "tests/fixtures/extra_placeholder.asl.json"
  }

  expect_failures = [aws_sfn_state_machine.this]
}
