mock_provider "aws" {
  mock_resource "aws_iam_role" {
    defaults = { arn = "arn:aws:iam::123456789012:role/perflab-mock" }
  }
  mock_data "aws_iam_policy_document" {
    defaults = { json = "{}" }
  }
  # Mocked computed values are random strings; the proxy target's group name is validated (it must
  # start with a letter), so pin the one AWS gives the default group.
  mock_resource "aws_db_proxy_default_target_group" {
    defaults = { name = "default" }
  }
  mock_resource "aws_db_instance" {
    defaults = {
      master_user_secret = [{ secret_arn = "arn:aws:secretsmanager:us-east-1:123456789012:secret:rds!db-0000", kms_key_id = "", secret_status = "active" }]
    }
  }
}

variables {
  name                      = "perflab"
  vpc_id                    = "vpc-0123456789abcdef0"
  subnet_ids                = ["subnet-0000000000000000a", "subnet-0000000000000000b"]
  client_security_group_ids = ["sg-0000000000000000a"]
}

run "private_encrypted_with_proxy" {
  command = apply

  assert {
    condition     = aws_db_instance.this.publicly_accessible == false && aws_db_instance.this.storage_encrypted
    error_message = "private and encrypted"
  }
  assert {
    condition     = aws_db_instance.this.manage_master_user_password && aws_db_instance.this.password == null
    error_message = "RDS generates the password into Secrets Manager"
  }
  assert {
    condition     = length(aws_db_proxy.this) == 1 && aws_db_proxy.this[0].require_tls && output.endpoint == aws_db_proxy.this[0].endpoint
    error_message = "clients go through a TLS-only proxy"
  }
  assert {
    condition     = length(aws_vpc_security_group_ingress_rule.database_from_clients) == 0 && length(aws_vpc_security_group_ingress_rule.proxy_from_clients) == 1
    error_message = "clients reach the proxy, only the proxy reaches the database"
  }
  assert {
    condition     = alltrue([for group in aws_cloudwatch_log_group.postgres : group.retention_in_days == 30])
    error_message = "exported logs expire"
  }
}

run "without_proxy" {
  command = apply

  variables {
    enable_proxy = false
  }

  assert {
    condition     = length(aws_db_proxy.this) == 0 && output.endpoint == aws_db_instance.this.address
    error_message = "no proxy: clients connect to the instance"
  }
  assert {
    condition     = length(aws_vpc_security_group_ingress_rule.database_from_clients) == 1
    error_message = "clients reach the database directly"
  }
}
