Feature: Step Functions logging is on
  Every state machine logs every event (level ALL) to CloudWatch Logs.

  Scenario: State machines log at level ALL
    Given I have aws_sfn_state_machine defined
    Then it must contain logging_configuration
    And it must contain level
    And its value must be ALL

  Scenario: State machine logs include execution data
    Given I have aws_sfn_state_machine defined
    Then it must contain logging_configuration
    And it must contain include_execution_data
    And its value must be true
