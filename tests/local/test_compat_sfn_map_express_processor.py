"""compat ``sfn_map_express_processor``: a Distributed Map with EXPRESS children is accepted and runs.

That the gap is real (without the patch CreateStateMachine rejects the definition) is shown in
``test_compat_sfn_map_gaps.py``.
"""

from __future__ import annotations

import json
from typing import Any

from tests.conftest import ClientFactory
from tests.local.helpers import (
    create_state_machine,
    distributed_map,
    run_state_machine,
    start_execution,
    wait_for_execution,
)


def express_fanout() -> dict[str, Any]:
    square = {"Type": "Pass", "Parameters": {"value.$": "States.MathAdd($, 1)"}, "End": True}
    return distributed_map("Square", {"Square": square}, execution_type="EXPRESS")


def test_distributed_map_with_express_children_runs(aws: ClientFactory) -> None:
    sfn = aws("stepfunctions")
    definition = json.dumps(express_fanout())
    arn = create_state_machine(sfn, definition, "express")
    # The stored definition is the one given, not the rewritten token stream.
    assert sfn.describe_state_machine(stateMachineArn=arn)["definition"] == definition

    described = wait_for_execution(sfn, start_execution(sfn, arn, {"items": [1, 2, 3]}), timeout=60)

    assert described["status"] == "SUCCEEDED", described
    assert json.loads(described["output"]) == [{"value": 2}, {"value": 3}, {"value": 4}]


def test_express_elsewhere_is_left_alone(aws: ClientFactory) -> None:
    """Only the ExecutionType inside ProcessorConfig is rewritten: "EXPRESS" as data stays data."""
    definition = {
        "StartAt": "Data",
        "States": {
            "Data": {
                "Type": "Pass",
                "Parameters": {"ExecutionType": "EXPRESS", "Mode": "EXPRESS"},
                "End": True,
            }
        },
    }
    described = run_state_machine(aws("stepfunctions"), definition, name_prefix="express-data")

    assert described["status"] == "SUCCEEDED", described
    assert json.loads(described["output"]) == {"ExecutionType": "EXPRESS", "Mode": "EXPRESS"}
