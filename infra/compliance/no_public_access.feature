Feature: No public RDS or S3
  The database and the artifact bucket are private: nothing in the plan exposes them.

  Scenario: RDS instances are not publicly accessible
    Given I have aws_db_instance defined
    Then it must contain publicly_accessible
    And its value must be false

  Scenario Outline: Public access blocks block everything
    Given I have aws_s3_bucket_public_access_block defined
    Then it must contain <setting>
    And its value must be true

    Examples:
      | setting                 |
      | block_public_acls       |
      | block_public_policy     |
      | ignore_public_acls      |
      | restrict_public_buckets |

  Scenario: Subnets do not hand out public addresses
    Given I have aws_subnet defined
    Then it must contain map_public_ip_on_launch
    And its value must be false
