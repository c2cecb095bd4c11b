Feature: The state machine's Map is Distributed
  An Inline Map runs at most 40 iterations at once; the 100-way fan-out needs a Distributed Map
  (ItemProcessor.ProcessorConfig.Mode DISTRIBUTED) with STANDARD children (Express children cannot
  wait on ECS). The definition is read where the plan knows it (it is unknown in a first plan of
  envs/dev, whose subnets do not exist yet; infra/compliance/workflow_plan plans it with known inputs).

  Scenario: Map states are Distributed
    Given I have aws_sfn_state_machine defined
    When it has definition
    Then it must contain definition
    And it must contain ItemProcessor
    And it must contain ProcessorConfig
    And it must contain Mode
    And its value must be DISTRIBUTED

  Scenario: Distributed Map children are STANDARD executions
    Given I have aws_sfn_state_machine defined
    When it has definition
    Then it must contain definition
    And it must contain ProcessorConfig
    And it must contain ExecutionType
    And its value must be STANDARD
