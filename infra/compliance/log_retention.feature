Feature: Log retention is set
  Every log group expires its events (unset, the provider plans 0 = never expire).

  Scenario: Every log group has a retention
    Given I have aws_cloudwatch_log_group defined
    Then it must contain retention_in_days
    And its value must be greater than 0
