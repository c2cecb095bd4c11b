"""Step Functions drives the local Lambda runtime: a 100-way Distributed Map of real invocations."""

from __future__ import annotations

import json
from collections.abc import Iterator
from typing import Any

import pytest

from tests.conftest import ClientFactory, unique
from tests.local.helpers import wait_for_execution
from tests.local.test_lambda_runtime import HANDLER, TRUST, build_zip


@pytest.fixture(scope="module")
def function_and_role(aws: ClientFactory) -> Iterator[tuple[str, str]]:
    role = aws("iam").create_role(RoleName=unique("role"), AssumeRolePolicyDocument=json.dumps(TRUST))[
        "Role"
    ]["Arn"]
    name = unique("fn")
    aws("lambda").create_function(
        FunctionName=name,
        Runtime="python3.11",
        Role=role,
        Handler="app.handler",
        Code={"ZipFile": build_zip({"app.py": HANDLER})},
        Timeout=60,
        MemorySize=256,
    )
    yield name, role
    aws("lambda").delete_function(FunctionName=name)


def fanout(function_arn: str) -> dict[str, Any]:
    return {
        "StartAt": "Fanout",
        "States": {
            "Fanout": {
                "Type": "Map",
                "ItemsPath": "$.items",
                "MaxConcurrency": 100,
                "ItemProcessor": {
                    "ProcessorConfig": {"Mode": "DISTRIBUTED", "ExecutionType": "STANDARD"},
                    "StartAt": "Invoke",
                    "States": {
                        "Invoke": {
                            "Type": "Task",
                            "Resource": "arn:aws:states:::lambda:invoke",
                            "Parameters": {"FunctionName": function_arn, "Payload.$": "$"},
                            "OutputPath": "$.Payload",
                            "End": True,
                        }
                    },
                },
                "End": True,
            }
        },
    }


def run(aws: ClientFactory, role: str, definition: dict[str, Any], items: list[Any]) -> dict[str, Any]:
    sfn = aws("stepfunctions")
    arn = sfn.create_state_machine(name=unique("sm"), definition=json.dumps(definition), roleArn=role)[
        "stateMachineArn"
    ]
    execution = sfn.start_execution(stateMachineArn=arn, input=json.dumps({"items": items}))["executionArn"]
    described = wait_for_execution(sfn, execution, timeout=240)
    described["history"] = sfn.get_execution_history(executionArn=execution, maxResults=1000)["events"]
    return described


def test_distributed_map_runs_one_hundred_real_invocations(
    aws: ClientFactory, function_and_role: tuple[str, str]
) -> None:
    name, role = function_and_role
    table = unique("tbl")
    ddb = aws("dynamodb")
    ddb.create_table(
        TableName=table,
        KeySchema=[{"AttributeName": "pk", "KeyType": "HASH"}],
        AttributeDefinitions=[{"AttributeName": "pk", "AttributeType": "S"}],
        BillingMode="PAY_PER_REQUEST",
    )
    function_arn = aws("lambda").get_function(FunctionName=name)["Configuration"]["FunctionArn"]
    items = [{"action": "put", "table": table, "key": f"item-{i}"} for i in range(100)]
    described = run(aws, role, fanout(function_arn), items)
    assert described["status"] == "SUCCEEDED", described.get("cause")
    output = json.loads(described["output"])
    assert [o["action"] for o in output] == ["put"] * 100
    written = ddb.scan(TableName=table, Select="COUNT")["Count"]
    assert written == 100
    request_ids = {i["request_id"]["S"] for i in ddb.scan(TableName=table)["Items"]}
    assert len(request_ids) == 100


def test_raising_handler_fails_the_task_with_its_exception_type(
    aws: ClientFactory, function_and_role: tuple[str, str]
) -> None:
    name, role = function_and_role
    definition = {
        "StartAt": "Invoke",
        "States": {
            "Invoke": {
                "Type": "Task",
                "Resource": "arn:aws:states:::lambda:invoke",
                "Parameters": {"FunctionName": name, "Payload": {"action": "raise"}},
                "End": True,
            }
        },
    }
    described = run(aws, role, definition, [])
    assert described["status"] == "FAILED"
    assert described["error"] == "ValueError"
    failed = [e for e in described["history"] if e["type"] == "TaskFailed"]
    assert failed and failed[0]["taskFailedEventDetails"]["error"] == "ValueError"
    cause = json.loads(failed[0]["taskFailedEventDetails"]["cause"])
    assert cause["errorType"] == "ValueError" and cause["errorMessage"] == "boom from the handler"
