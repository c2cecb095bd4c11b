mock_provider "aws" {}

run "tables_like_perflab_results" {
  command = plan

  assert {
    condition     = alltrue([for table in aws_dynamodb_table.this : table.billing_mode == "PAY_PER_REQUEST" && one(table.point_in_time_recovery).enabled && one(table.server_side_encryption).enabled])
    error_message = "on-demand, point-in-time recovery, encrypted"
  }
  assert {
    condition     = aws_dynamodb_table.this["invocations"].hash_key == "run_id" && aws_dynamodb_table.this["invocations"].range_key == "index"
    error_message = "invocations: run_id + index, as perflab.results.create_tables"
  }
  assert {
    condition     = aws_dynamodb_table.this["runs"].name == "perflab-runs" && aws_dynamodb_table.this["runs"].range_key == null
    error_message = "runs: run_id only"
  }
}
