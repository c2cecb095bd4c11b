"""sfn_start_execution_name: StartExecution without a name gets a UUID name, as on AWS.

The gap is shown in ``test_compat_sfn_gaps.py``.
"""

from __future__ import annotations

import uuid

from tests.conftest import ClientFactory
from tests.local.helpers import create_state_machine, wait_for_execution

PASS = {"StartAt": "P", "States": {"P": {"Type": "Pass", "End": True}}}


def start_unnamed_twice(aws: ClientFactory) -> list[str]:
    """Start two unnamed executions, the second after the first has ended.

    Waiting matters for the unpatched gap: a start that repeats a *running* execution's name and input
    is answered idempotently with that execution, so whether the second start failed used to depend on
    whether the first had finished (it flaked under load).
    """
    sfn = aws("stepfunctions")
    arn = create_state_machine(sfn, PASS)
    first = sfn.start_execution(stateMachineArn=arn)["executionArn"]
    wait_for_execution(sfn, first)
    return [first, sfn.start_execution(stateMachineArn=arn)["executionArn"]]


def test_unnamed_executions_get_distinct_uuid_names(aws: ClientFactory) -> None:
    sfn = aws("stepfunctions")
    arns = start_unnamed_twice(aws)
    assert len(set(arns)) == 2
    for arn in arns:
        name = arn.rsplit(":", 1)[1]
        assert str(uuid.UUID(name)) == name
        described = wait_for_execution(sfn, arn)
        assert described["status"] == "SUCCEEDED"
        assert described["name"] == name
