Feature: DynamoDB point-in-time recovery
  The metric tables can be restored to any second of the last 35 days.

  Scenario: Every table has point-in-time recovery
    Given I have aws_dynamodb_table defined
    Then it must contain point_in_time_recovery
    And it must contain enabled
    And its value must be true
