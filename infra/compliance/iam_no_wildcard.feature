Feature: No IAM statement allows every action on every resource
  Least privilege: no Allow statement has Action "*" with Resource "*". (Statements that list
  specific actions on "*", for APIs without resource-level permissions, are fine.)

  Scenario Outline: No Allow statement with Action * on Resource *
    Given I have <policy_type> defined
    When it contains policy
    And it contains Statement
    And its Effect is Allow
    And its Action is *
    And its Resource is *
    Then it must fail

    Examples:
      | policy_type           |
      | aws_iam_role_policy   |
      | aws_iam_policy        |
      | aws_iam_user_policy   |
      | aws_iam_group_policy  |
