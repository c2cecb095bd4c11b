"""sfn_service_normalisation: integration parameters and results in Step Functions' PascalCase."""

from __future__ import annotations

import json

from perflab.local.compat.sfn_service_normalisation import (
    from_sdk_response,
    operation_model,
    to_sdk_request,
)
from tests.conftest import ClientFactory
from tests.local.helpers import create_table, run_state_machine
from tests.local.sfn_compat import make_echo_function, make_ecs, stack_without, task

RUN_TASK = "arn:aws:states:::ecs:runTask"


def test_request_and_response_follow_the_operation_shapes() -> None:
    run_task = operation_model("ecs", "run_task")
    assert run_task is not None
    request = to_sdk_request(
        {
            "Cluster": "c",
            "NetworkConfiguration": {"AwsvpcConfiguration": {"Subnets": ["s"]}},
            "Overrides": {"ContainerOverrides": [{"Name": "main", "Environment": [{"Name": "A"}]}]},
            "Tags": [{"Key": "k", "Value": "v"}],
        },
        run_task.input_shape,
    )
    assert request == {
        "cluster": "c",
        "networkConfiguration": {"awsvpcConfiguration": {"subnets": ["s"]}},
        "overrides": {"containerOverrides": [{"name": "main", "environment": [{"name": "A"}]}]},
        "tags": [{"key": "k", "value": "v"}],
    }
    response = from_sdk_response(
        {"tasks": [{"taskArn": "t", "containers": [{"exitCode": 0}]}], "failures": []},
        run_task.output_shape,
    )
    assert response == {"Tasks": [{"TaskArn": "t", "Containers": [{"ExitCode": 0}]}], "Failures": []}
    # Map keys are data: DynamoDB attribute names and type tags stay as they are.
    get_item = operation_model("dynamodb", "GetItem")
    assert get_item is not None
    item = {"Item": {"lowerCase": {"M": {"inner": {"S": "x"}}}}}
    assert from_sdk_response(item, get_item.output_shape) == item


def run_ecs_task(aws: ClientFactory) -> dict[str, object]:
    ecs = make_ecs(aws)
    return run_state_machine(aws("stepfunctions"), task(RUN_TASK, ecs.run_task_parameters()))


def test_ecs_run_task_succeeds_with_sfn_cased_output(aws: ClientFactory) -> None:
    described = run_ecs_task(aws)
    assert described["status"] == "SUCCEEDED", described
    output = json.loads(str(described["output"]))
    assert set(output) >= {"Tasks", "Failures"}
    first = output["Tasks"][0]
    assert first["TaskArn"].startswith("arn:aws:ecs:")
    assert first["ClusterArn"].startswith("arn:aws:ecs:")
    assert first["Containers"][0]["Name"] == "main"
    assert first["Overrides"]["ContainerOverrides"][0]["Environment"] == [
        {"Name": "PERFLAB_TEST", "Value": "1"}
    ]


def test_dynamodb_put_and_get_item_still_work(aws: ClientFactory) -> None:
    table = create_table(aws, "table")
    definition = {
        "StartAt": "Put",
        "States": {
            "Put": {
                "Type": "Task",
                "Resource": "arn:aws:states:::dynamodb:putItem",
                "Parameters": {"TableName": table, "Item": {"pk": {"S": "a"}, "n": {"N": "1"}}},
                "ResultPath": None,
                "Next": "Get",
            },
            "Get": {
                "Type": "Task",
                "Resource": "arn:aws:states:::dynamodb:getItem",
                "Parameters": {"TableName": table, "Key": {"pk": {"S": "a"}}},
                "ResultSelector": {"Item.$": "$.Item"},
                "End": True,
            },
        },
    }
    described = run_state_machine(aws("stepfunctions"), definition)
    assert described["status"] == "SUCCEEDED", described
    assert json.loads(described["output"]) == {"Item": {"pk": {"S": "a"}, "n": {"N": "1"}}}


def test_lambda_invoke_still_works(aws: ClientFactory) -> None:
    function = make_echo_function(aws)
    definition = task("arn:aws:states:::lambda:invoke", {"FunctionName": function, "Payload": {"x": 1}})
    described = run_state_machine(aws("stepfunctions"), definition)
    assert described["status"] == "SUCCEEDED", described
    output = json.loads(described["output"])
    assert output["StatusCode"] == 200
    assert output["Payload"] == {"x": 1}


def test_without_the_patch_ecs_integrations_fail() -> None:
    with stack_without("sfn_service_normalisation") as unpatched:
        described = run_ecs_task(unpatched)
    assert described["status"] == "FAILED"
    # moto sends PascalCase to boto3 and then looks up the PascalCase key in the result.
    assert "'Cluster'" in str(described.get("cause"))
