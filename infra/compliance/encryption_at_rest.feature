Feature: Encryption at rest everywhere
  Every store of perflab data is encrypted at rest: the artifact bucket, the database, the metric
  tables and the image repository. (S3 also encrypts every new object with SSE-S3 when a bucket has no
  configuration; the artifact_store module always declares one. Log groups and Lambda environment
  variables are always encrypted by their services.)

  Scenario: Bucket default encryption uses SSE-S3 or SSE-KMS
    Given I have aws_s3_bucket_server_side_encryption_configuration defined
    Then it must contain rule
    And it must contain apply_server_side_encryption_by_default
    And it must contain sse_algorithm
    And its value must match the "^(AES256|aws:kms|aws:kms:dsse)$" regex

  Scenario: RDS storage is encrypted
    Given I have aws_db_instance defined
    Then it must contain storage_encrypted
    And its value must be true

  Scenario: DynamoDB tables are encrypted under a KMS key
    Given I have aws_dynamodb_table defined
    Then it must contain server_side_encryption
    And it must contain enabled
    And its value must be true

  Scenario: ECR repositories are encrypted
    Given I have aws_ecr_repository defined
    Then it must contain encryption_configuration
    And it must contain encryption_type
    And its value must match the "^(AES256|KMS)$" regex
