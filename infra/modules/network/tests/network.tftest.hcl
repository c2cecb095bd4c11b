mock_provider "aws" {
  mock_data "aws_iam_policy_document" {
    defaults = { json = "{}" }
  }
  mock_data "aws_caller_identity" {
    defaults = { account_id = "123456789012" }
  }
}

variables {
  name               = "perflab"
  region             = "us-east-1"
  availability_zones = ["us-east-1a", "us-east-1b"]
}

run "private_subnets_and_endpoints" {
  command = plan

  assert {
    condition     = length(aws_subnet.private) == 2 && alltrue([for subnet in aws_subnet.private : subnet.map_public_ip_on_launch == false])
    error_message = "one private subnet per zone, none handing out public addresses"
  }
  assert {
    condition     = toset(keys(aws_vpc_endpoint.gateway)) == toset(["s3", "dynamodb"]) && alltrue([for endpoint in aws_vpc_endpoint.gateway : endpoint.vpc_endpoint_type == "Gateway"])
    error_message = "S3 and DynamoDB gateway endpoints"
  }
  assert {
    condition     = toset(keys(aws_vpc_endpoint.interface)) == toset(["states", "logs", "ecr.api", "ecr.dkr", "secretsmanager"])
    error_message = "interface endpoints for Step Functions, Logs, ECR and Secrets Manager"
  }
  assert {
    condition     = aws_vpc_endpoint.interface["states"].service_name == "com.amazonaws.us-east-1.states" && aws_vpc_endpoint.interface["states"].private_dns_enabled
    error_message = "interface endpoints use private DNS"
  }
  assert {
    condition     = length(aws_flow_log.this) == 1 && aws_cloudwatch_log_group.flow_logs[0].retention_in_days == 30
    error_message = "flow logs on, with a retention"
  }
}

run "flow_logs_off" {
  command = plan

  variables {
    flow_logs_retention_days = 0
  }

  assert {
    condition     = length(aws_flow_log.this) == 0 && length(aws_iam_role.flow_logs) == 0
    error_message = "retention 0 turns flow logs off"
  }
}

run "one_zone_is_refused" {
  command = plan

  variables {
    availability_zones = ["us-east-1a"]
  }

  expect_failures = [var.availability_zones]
}
