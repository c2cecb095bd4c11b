# perflab on AWS, dev environment: composes the modules, nothing else.

data "aws_caller_identity" "current" {}

data "aws_availability_zones" "available" {
  count = var.availability_zones == null ? 1 : 0
  state = "available"
}

locals {
  availability_zones = var.availability_zones != null ? var.availability_zones : slice(data.aws_availability_zones.available[0].names, 0, 2)
  bucket_name        = var.bucket_name != null ? var.bucket_name : "${var.name}-artifacts-${data.aws_caller_identity.current.account_id}-${var.region}"

  # What perflab.config.Settings reads in every function and task (perflab.deploy.function_environment).
  # The database password is not here: tasks get PGPASSWORD from Secrets Manager, functions read the
  # secret named by PERFLAB_DATABASE_SECRET_ARN.
  workload_environment = {
    PERFLAB_REGION               = var.region
    PERFLAB_BUCKET               = module.artifact_store.bucket_name
    PERFLAB_INVOCATIONS_TABLE    = module.metrics.invocations_table_name
    PERFLAB_RUNS_TABLE           = module.metrics.runs_table_name
    PERFLAB_CHUNK_BYTES          = tostring(var.chunk_bytes)
    PERFLAB_DATABASE_URL         = "host=${module.database.endpoint} port=${module.database.port} dbname=${module.database.database_name} user=${module.database.master_username} sslmode=require"
    PERFLAB_DATABASE_SECRET_ARN  = module.database.secret_arn
    POWERTOOLS_SERVICE_NAME      = "perflab"
    POWERTOOLS_METRICS_NAMESPACE = "perflab"
  }
}

module "network" {
  source = "../../modules/network"

  name                     = var.name
  region                   = var.region
  availability_zones       = local.availability_zones
  flow_logs_retention_days = var.log_retention_days
}

module "artifact_store" {
  source = "../../modules/artifact_store"

  bucket_name   = local.bucket_name
  force_destroy = var.force_destroy
}

module "metrics" {
  source = "../../modules/metrics"

  invocations_table_name = var.invocations_table
  runs_table_name        = var.runs_table
}

module "database" {
  source = "../../modules/database"

  name                      = var.name
  vpc_id                    = module.network.vpc_id
  subnet_ids                = module.network.private_subnet_ids
  client_security_group_ids = [module.network.compute_security_group_id]
  instance_class            = var.db_instance_class
  enable_proxy              = var.enable_rds_proxy
  log_retention_days        = var.log_retention_days
}

module "functions" {
  source = "../../modules/functions"

  name = var.name
  packages = {
    download  = { path = var.download_zip_path, source_code_hash = var.download_zip_sha256 }
    aggregate = { path = var.aggregate_zip_path, source_code_hash = var.aggregate_zip_sha256 }
    api       = { path = var.api_zip_path, source_code_hash = var.api_zip_sha256 }
  }
  architecture         = var.lambda_architecture
  timeout_s            = { download = var.lambda_timeout_s }
  reserved_concurrency = var.reserved_concurrency
  subnet_ids           = module.network.private_subnet_ids
  security_group_ids   = [module.network.compute_security_group_id]
  environment          = local.workload_environment
  # POST is guarded by the HTTP API's authorizer (module.api): the app trusts that authorizer's verdict.
  api_environment    = { PERFLAB_API_AUTH = lower(var.api_authorization_type == "AWS_IAM" ? "iam" : "jwt") }
  bucket_name        = module.artifact_store.bucket_name
  table_names        = [module.metrics.invocations_table_name, module.metrics.runs_table_name]
  secret_arns        = [module.database.secret_arn]
  state_machine_name = "${var.name}-download-fanout"
  log_retention_days = var.log_retention_days
}

module "tasks" {
  source = "../../modules/tasks"

  name                    = var.name
  image                   = var.task_image
  image_tag               = var.task_image_tag
  cpu_architecture        = var.task_cpu_architecture
  environment             = local.workload_environment
  secrets                 = { PGPASSWORD = "${module.database.secret_arn}:password::" }
  secret_arns             = [module.database.secret_arn]
  bucket_name             = module.artifact_store.bucket_name
  table_names             = [module.metrics.invocations_table_name, module.metrics.runs_table_name]
  log_retention_days      = var.log_retention_days
  force_delete_repository = var.force_destroy
}

module "workflow" {
  source = "../../modules/workflow"

  name                       = var.name
  download_function_arn      = module.functions.download_function_arn
  aggregate_function_arn     = module.functions.aggregate_function_arn
  cluster_arn                = module.tasks.cluster_arn
  task_definition_arn        = module.tasks.task_definition_arn
  task_definition_family_arn = module.tasks.task_definition_family_arn
  container_name             = module.tasks.container_name
  task_role_arns             = module.tasks.role_arns
  subnet_ids                 = module.network.private_subnet_ids
  security_group_ids         = [module.network.compute_security_group_id]
  invocations_table_name     = module.metrics.invocations_table_name
  runs_table_name            = module.metrics.runs_table_name
  log_retention_days         = var.log_retention_days
}

module "api" {
  source = "../../modules/api"

  name                = var.name
  function_name       = module.functions.function_names["api"]
  function_invoke_arn = module.functions.api_function_invoke_arn
  authorization_type  = var.api_authorization_type
  jwt_issuer          = var.api_jwt_issuer
  jwt_audience        = var.api_jwt_audience
  authorize_reads     = var.api_authorize_reads
  log_retention_days  = var.log_retention_days
}
