"""sfn_parser_scope: a failed parse does not poison later ones; concurrent creates all succeed."""

from __future__ import annotations

from concurrent.futures import ThreadPoolExecutor

import pytest
from botocore.exceptions import ClientError

from tests.conftest import ClientFactory
from tests.local.helpers import create_state_machine
from tests.local.sfn_compat import stack_without

#: A JSONPath definition (the default query language) using JSONPath-only fields.
GOOD = {
    "StartAt": "P",
    "States": {"P": {"Type": "Pass", "Parameters": {"a.$": "$.x"}, "ResultPath": "$.r", "End": True}},
}
#: Invalid on AWS too (a JSONata machine cannot go back to JSONPath in a state). The parser fails
#: after opening the JSONata scope, which moto then leaves on its shared stack.
BAD = {
    "QueryLanguage": "JSONata",
    "StartAt": "P",
    "States": {"P": {"Type": "Pass", "QueryLanguage": "JSONPath", "End": True}},
}


def bad_then_good(aws: ClientFactory) -> None:
    # (moto answers InvalidDefinition with an empty error code: match the message.)
    with pytest.raises(ClientError, match="Cannot downgrade from JSONata"):
        create_state_machine(aws("stepfunctions"), BAD)
    create_state_machine(aws("stepfunctions"), GOOD)


def test_a_bad_definition_does_not_break_later_ones(aws: ClientFactory) -> None:
    bad_then_good(aws)
    bad_then_good(aws)


def test_concurrent_creates_all_succeed(aws: ClientFactory) -> None:
    definitions = [GOOD, BAD] * 10
    with ThreadPoolExecutor(max_workers=20) as pool:
        outcomes = list(pool.map(lambda d: _try_create(aws, d), definitions))
    assert outcomes == [d is GOOD for d in definitions]


def _try_create(aws: ClientFactory, definition: dict[str, object]) -> bool:
    try:
        create_state_machine(aws("stepfunctions"), definition)
    except ClientError as error:
        assert "Cannot downgrade from JSONata" in error.response["Error"]["Message"]
        return False
    return True


def test_without_the_patch_a_bad_definition_breaks_later_ones() -> None:
    with (
        stack_without("sfn_parser_scope") as unpatched,
        pytest.raises(ClientError, match="Unsupported declaration in QueryLanguage"),
    ):
        bad_then_good(unpatched)
