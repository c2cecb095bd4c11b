"""compat ``sfn_map_express_processor``: a Distributed Map with EXPRESS children is accepted and runs.

That the gap is real (without the patch CreateStateMachine rejects the definition) is shown in
``test_compat_sfn_map_gaps.py``.
"""

from __future__ import annotations

import json
from typing import Any

from tests.conftest import ClientFactory, unique
from tests.local.helpers import wait_for_execution

ROLE = "arn:aws:iam::123456789012:role/perflab-test"


def express_fanout() -> dict[str, Any]:
    return {
        "StartAt": "Fanout",
        "States": {
            "Fanout": {
                "Type": "Map",
                "ItemsPath": "$.items",
                "ItemProcessor": {
                    "ProcessorConfig": {"Mode": "DISTRIBUTED", "ExecutionType": "EXPRESS"},
                    "StartAt": "Square",
                    "States": {
                        "Square": {
                            "Type": "Pass",
                            "Parameters": {"value.$": "States.MathAdd($, 1)"},
                            "End": True,
                        }
                    },
                },
                "End": True,
            }
        },
    }


def test_distributed_map_with_express_children_runs(aws: ClientFactory) -> None:
    sfn = aws("stepfunctions")
    definition = json.dumps(express_fanout())
    arn = sfn.create_state_machine(name=unique("express"), definition=definition, roleArn=ROLE)[
        "stateMachineArn"
    ]
    # The stored definition is the one given, not the rewritten token stream.
    assert sfn.describe_state_machine(stateMachineArn=arn)["definition"] == definition

    execution_arn = sfn.start_execution(stateMachineArn=arn, input=json.dumps({"items": [1, 2, 3]}))[
        "executionArn"
    ]
    described = wait_for_execution(sfn, execution_arn, timeout=60)

    assert described["status"] == "SUCCEEDED", described
    assert json.loads(described["output"]) == [{"value": 2}, {"value": 3}, {"value": 4}]


def test_express_elsewhere_is_left_alone(aws: ClientFactory) -> None:
    """Only the ExecutionType inside ProcessorConfig is rewritten: "EXPRESS" as data stays data."""
    sfn = aws("stepfunctions")
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
    arn = sfn.create_state_machine(
        name=unique("express-data"), definition=json.dumps(definition), roleArn=ROLE
    )["stateMachineArn"]
    execution_arn = sfn.start_execution(stateMachineArn=arn)["executionArn"]
    described = wait_for_execution(sfn, execution_arn, timeout=60)

    assert described["status"] == "SUCCEEDED", described
    assert json.loads(described["output"]) == {"ExecutionType": "EXPRESS", "Mode": "EXPRESS"}
