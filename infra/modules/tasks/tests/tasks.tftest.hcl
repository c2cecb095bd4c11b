mock_provider "aws" {
  mock_resource "aws_iam_role" {
    defaults = { arn = "arn:aws:iam::123456789012:role/perflab-mock" }
  }
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
  mock_resource "aws_ecr_repository" {
    defaults = { repository_url = "123456789012.dkr.ecr.us-east-1.amazonaws.com/perflab-download-task" }
  }
}

variables {
  name        = "perflab"
  environment = { PERFLAB_BUCKET = "perflab-artifacts" }
  secrets     = { PGPASSWORD = "arn:aws:secretsmanager:us-east-1:123456789012:secret:rds!db-0000:password::" }
  bucket_name = "perflab-artifacts"
  table_names = ["perflab-invocations", "perflab-runs"]
  image_tag   = "0123abcd"
}

run "fargate_task_like_perflab_deploy" {
  command = apply

  assert {
    condition     = aws_ecs_task_definition.this.family == "perflab-download" && aws_ecs_task_definition.this.cpu == "1024" && aws_ecs_task_definition.this.memory == "2048"
    error_message = "family perflab-download, 1 vCPU / 2 GB (perflab.deploy)"
  }
  assert {
    condition     = aws_ecs_task_definition.this.requires_compatibilities == toset(["FARGATE"]) && aws_ecs_task_definition.this.network_mode == "awsvpc"
    error_message = "FARGATE, awsvpc"
  }
  assert {
    condition     = jsondecode(aws_ecs_task_definition.this.container_definitions)[0].name == "download" && jsondecode(aws_ecs_task_definition.this.container_definitions)[0].command == ["python", "-m", "ecs_task"]
    error_message = "container download runs python -m ecs_task"
  }
  assert {
    condition     = jsondecode(aws_ecs_task_definition.this.container_definitions)[0].image == "123456789012.dkr.ecr.us-east-1.amazonaws.com/perflab-download-task:0123abcd"
    error_message = "the image comes from the created repository with the given tag"
  }
  assert {
    condition     = jsondecode(aws_ecs_task_definition.this.container_definitions)[0].secrets[0].name == "PGPASSWORD"
    error_message = "the database password comes from Secrets Manager, not the environment"
  }
  assert {
    condition     = jsondecode(aws_ecs_task_definition.this.container_definitions)[0].logConfiguration.options["awslogs-group"] == "/perflab/perflab/download-task"
    error_message = "logs go to perflab.deploy.task_log_group()"
  }
  assert {
    condition     = aws_ecr_repository.this.image_tag_mutability == "IMMUTABLE" && one(aws_ecr_repository.this.image_scanning_configuration).scan_on_push
    error_message = "immutable, scanned images"
  }
  assert {
    condition     = aws_iam_role.task.name == "perflab-task" && aws_iam_role.execution.name != aws_iam_role.task.name
    error_message = "separate task and execution roles"
  }
  assert {
    condition     = output.cluster_arn == "arn:aws:ecs:us-east-1:123456789012:cluster/perflab"
    error_message = "cluster perflab, ARN known at plan time"
  }
}

run "explicit_image" {
  command = apply

  variables {
    image = "123456789012.dkr.ecr.us-east-1.amazonaws.com/perflab-download-task@sha256:0000000000000000000000000000000000000000000000000000000000000000"
  }

  assert {
    condition     = jsondecode(aws_ecs_task_definition.this.container_definitions)[0].image == var.image
    error_message = "an explicit image reference wins"
  }
}
