"""Step Functions drives the local Lambda runtime: a 100-way Distributed Map of real invocations."""

from __future__ import annotations

import json
from collections.abc import Iterator
from typing import Any

import pytest

from tests.conftest import ClientFactory, unique
from tests.local.helpers import create_lambda_role, create_table, distributed_map, run_state_machine
from tests.local.test_lambda_runtime import HANDLER, build_zip


@pytest.fixture(scope="module")
def function_and_role(aws: ClientFactory) -> Iterator[tuple[str, str]]:
    role = create_lambda_role(aws)
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
    invoke = {
        "Type": "Task",
        "Resource": "arn:aws:states:::lambda:invoke",
        "Parameters": {"FunctionName": function_arn, "Payload.$": "$"},
        "OutputPath": "$.Payload",
        "End": True,
    }
    return distributed_map("Invoke", {"Invoke": invoke}, MaxConcurrency=100)


def run(aws: ClientFactory, role: str, definition: dict[str, Any], items: list[Any]) -> dict[str, Any]:
    sfn = aws("stepfunctions")
    described = run_state_machine(sfn, definition, {"items": items}, role_arn=role, timeout=240)
    execution = described["executionArn"]
    described["history"] = sfn.get_execution_history(executionArn=execution, maxResults=1000)["events"]
    return described


def test_distributed_map_runs_one_hundred_real_invocations(
    aws: ClientFactory, function_and_role: tuple[str, str]
) -> None:
    name, role = function_and_role
    table, ddb = create_table(aws, "tbl"), aws("dynamodb")
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
