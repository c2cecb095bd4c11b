output "endpoint" {
  description = "Host the clients connect to: the proxy's endpoint when enabled, else the instance's address."
  value       = var.enable_proxy ? aws_db_proxy.this[0].endpoint : aws_db_instance.this.address
}

output "port" {
  description = "PostgreSQL port."
  value       = 5432
}

output "database_name" {
  description = "Database name."
  value       = aws_db_instance.this.db_name
}

output "master_username" {
  description = "Master user name (its password is in the secret)."
  value       = aws_db_instance.this.username
}

output "secret_arn" {
  description = "ARN of the Secrets Manager secret RDS manages for the master user (JSON with username and password)."
  value       = aws_db_instance.this.master_user_secret[0].secret_arn
}

output "instance_identifier" {
  description = "Identifier of the DB instance."
  value       = aws_db_instance.this.identifier
}

output "security_group_id" {
  description = "Security group of the DB instance."
  value       = aws_security_group.database.id
}

output "proxy_enabled" {
  description = "Whether clients go through RDS Proxy."
  value       = var.enable_proxy
}
