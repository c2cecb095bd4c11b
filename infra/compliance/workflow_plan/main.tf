# A plan of the workflow module alone with every input known, so the rendered definition is known at
# plan time: the AWS provider then calls ValidateStateMachineDefinition on it (make infra-check serves
# that call offline and validates for real), and the compliance features that read the definition
# (the Map is Distributed) see it. In envs/dev the definition waits for subnet, security group and
# task definition ids, which exist only after apply. Not a deployment: the values below are fixtures.

terraform {
  required_version = ">= 1.7.0"

  required_providers {
    aws = {
      source  = "hashicorp/aws"
      version = "5.100.0"
    }
  }
}

variable "aws_endpoint_url" {
  description = "The offline stub make infra-check starts (serves STS GetCallerIdentity and ValidateStateMachineDefinition)."
  type        = string
}

provider "aws" {
  region                      = "us-east-1"
  skip_credentials_validation = true
  skip_requesting_account_id  = true
  skip_metadata_api_check     = true
  skip_region_validation      = true

  endpoints {
    sfn = var.aws_endpoint_url
    sts = var.aws_endpoint_url
  }
}

variable "definition_file" {
  description = "ASL template to render; null is the repository's (make infra-check also plans a broken copy to show the validation fails)."
  type        = string
  default     = null
}

locals {
  account = "123456789012"
}

module "workflow" {
  source = "../../modules/workflow"

  name                       = "perflab"
  definition_file            = var.definition_file
  download_function_arn      = "arn:aws:lambda:us-east-1:${local.account}:function:perflab-download"
  aggregate_function_arn     = "arn:aws:lambda:us-east-1:${local.account}:function:perflab-aggregate"
  cluster_arn                = "arn:aws:ecs:us-east-1:${local.account}:cluster/perflab"
  task_definition_arn        = "arn:aws:ecs:us-east-1:${local.account}:task-definition/perflab-download:1"
  task_definition_family_arn = "arn:aws:ecs:us-east-1:${local.account}:task-definition/perflab-download:*"
  container_name             = "download"
  task_role_arns             = ["arn:aws:iam::${local.account}:role/perflab-task", "arn:aws:iam::${local.account}:role/perflab-task-execution"]
  subnet_ids                 = ["subnet-0a1b2c3d4e5f60001", "subnet-0a1b2c3d4e5f60002"]
  security_group_ids         = ["sg-0a1b2c3d4e5f60001"]
  invocations_table_name     = "perflab-invocations"
  runs_table_name            = "perflab-runs"
}

output "definition" {
  description = "The rendered definition (make infra-check feeds it to asl-validator and statelint)."
  value       = module.workflow.definition
}
