Feature: Lambda reserved concurrency is set
  Every function reserves its concurrency (the fan-out must not starve the account, and the account
  must not starve the fan-out). Unset, the provider plans -1 (unreserved).

  Scenario: Every function reserves concurrency
    Given I have aws_lambda_function defined
    Then it must contain reserved_concurrent_executions
    And its value must be greater than 0
