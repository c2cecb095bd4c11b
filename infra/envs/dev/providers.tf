locals {
  # aws_endpoint_url set = an AWS-compatible endpoint (the local cloud, or infra-check's offline stub):
  # every service goes there and nothing asks AWS for credentials, account or metadata.
  custom_endpoint = var.aws_endpoint_url != null
}

provider "aws" {
  region = var.region

  skip_credentials_validation = local.custom_endpoint
  skip_requesting_account_id  = local.custom_endpoint
  skip_metadata_api_check     = local.custom_endpoint
  skip_region_validation      = local.custom_endpoint
  s3_use_path_style           = local.custom_endpoint

  endpoints {
    apigatewayv2   = var.aws_endpoint_url
    cloudwatchlogs = var.aws_endpoint_url
    dynamodb       = var.aws_endpoint_url
    ec2            = var.aws_endpoint_url
    ecr            = var.aws_endpoint_url
    ecs            = var.aws_endpoint_url
    events         = var.aws_endpoint_url
    iam            = var.aws_endpoint_url
    lambda         = var.aws_endpoint_url
    rds            = var.aws_endpoint_url
    s3             = var.aws_endpoint_url
    secretsmanager = var.aws_endpoint_url
    sfn            = var.aws_endpoint_url
    sts            = var.aws_endpoint_url
  }

  default_tags {
    tags = merge({ Project = "perflab", Environment = "dev", ManagedBy = "terraform" }, var.tags)
  }
}
