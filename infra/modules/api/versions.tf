terraform {
  # terraform test with mock_provider needs 1.7.
  required_version = ">= 1.7.0"

  required_providers {
    aws = {
      source = "hashicorp/aws"
      # The root module pins the exact version; ValidateStateMachineDefinition at plan needs >= 5.67.
      version = ">= 5.67.0, < 6.0.0"
    }
  }
}
