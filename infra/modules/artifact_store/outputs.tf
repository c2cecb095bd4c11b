output "bucket_name" {
  description = "Name of the artifact bucket (PERFLAB_BUCKET); the input name, so it is known at plan time."
  value       = var.bucket_name
  depends_on  = [aws_s3_bucket.this]
}

output "bucket_arn" {
  description = "ARN of the artifact bucket."
  value       = aws_s3_bucket.this.arn
}
