# The metric sink: the same two tables perflab.results.create_tables() creates locally, on demand, with
# point-in-time recovery and encryption at rest under a KMS key.

locals {
  tables = {
    invocations = {
      name      = var.invocations_table_name
      hash_key  = "run_id"
      range_key = "index"
      attributes = [
        { name = "run_id", type = "S" },
        { name = "index", type = "N" },
      ]
    }
    runs = {
      name       = var.runs_table_name
      hash_key   = "run_id"
      range_key  = null
      attributes = [{ name = "run_id", type = "S" }]
    }
  }
}

resource "aws_dynamodb_table" "this" {
  for_each = local.tables

  name                        = each.value.name
  billing_mode                = "PAY_PER_REQUEST"
  hash_key                    = each.value.hash_key
  range_key                   = each.value.range_key
  deletion_protection_enabled = var.deletion_protection

  dynamic "attribute" {
    for_each = each.value.attributes
    content {
      name = attribute.value.name
      type = attribute.value.type
    }
  }

  point_in_time_recovery {
    enabled = true
  }

  server_side_encryption {
    enabled     = true
    kms_key_arn = var.kms_key_arn
  }

  tags = var.tags
}
