"""Failures surface to Step Functions the way AWS reports them: a raising handler, a task that exits
non-zero, a Lambda timeout."""

from __future__ import annotations

import json
from typing import Any

import pytest

from perflab.local.clients import LocalClients
from perflab.local.smoke import CONTAINER, SmokeDeployment, deploy
from perflab.local.stack import LocalCloudInfo
from tests.conftest import unique
from tests.local.helpers import run_state_machine


@pytest.fixture(scope="module")
def clients(local_cloud: LocalCloudInfo) -> LocalClients:
    return LocalClients(local_cloud.endpoint_url, local_cloud.region)


@pytest.fixture(scope="module")
def deployment(clients: LocalClients) -> SmokeDeployment:
    return deploy(clients, max_concurrency=10)


def run_single_task(
    clients: LocalClients, task: dict[str, Any], execution_input: dict[str, Any]
) -> dict[str, Any]:
    definition = {"StartAt": "T", "States": {"T": {**task, "End": True}}}
    return run_state_machine(
        clients("stepfunctions"), definition, execution_input, name_prefix="failure", timeout=120
    )


def test_raising_handler_fails_the_task_with_its_error_type(
    clients: LocalClients, deployment: SmokeDeployment
) -> None:
    task = {
        "Type": "Task",
        "Resource": "arn:aws:states:::lambda:invoke",
        "Parameters": {"FunctionName": deployment.function_name, "Payload.$": "$"},
        "TimeoutSeconds": 60,
    }
    described = run_single_task(clients, task, {"run_id": "raise", "index": 0, "fail": True})
    assert described["status"] == "FAILED"
    assert described["error"] == "RuntimeError"
    cause = json.loads(described["cause"])
    assert cause["errorType"] == "RuntimeError"
    assert "asked to fail" in cause["errorMessage"]


def test_lambda_timeout_fails_the_task(clients: LocalClients, deployment: SmokeDeployment) -> None:
    fn = unique("timeout")
    lam = clients("lambda")
    config = lam.get_function_configuration(FunctionName=deployment.function_name)
    from perflab.local.smoke import handler_zip

    lam.create_function(
        FunctionName=fn,
        Runtime="python3.11",
        Role=config["Role"],
        Handler="smoke_handler.handler",
        Code={"ZipFile": handler_zip()},
        Timeout=1,
        MemorySize=128,
        Environment={"Variables": {"SMOKE_TABLE": deployment.table}},
    )
    task = {
        "Type": "Task",
        "Resource": "arn:aws:states:::lambda:invoke",
        "Parameters": {"FunctionName": fn, "Payload.$": "$"},
        "TimeoutSeconds": 60,
    }
    described = run_single_task(clients, task, {"run_id": "timeout", "index": 0, "sleep_s": 10})
    assert described["status"] == "FAILED"
    # AWS reports a function timeout as the runtime's errorType (Sandbox.Timedout); older
    # documentation calls unhandled runtime failures Lambda.Unknown.
    assert described["error"] in {"Sandbox.Timedout", "Lambda.Unknown"}
    assert "timed out" in described["cause"].lower()


def test_task_exiting_non_zero_fails_run_task_sync(
    clients: LocalClients, deployment: SmokeDeployment
) -> None:
    task = {
        "Type": "Task",
        "Resource": "arn:aws:states:::ecs:runTask.sync",
        "Parameters": {
            "Cluster": deployment.cluster,
            "TaskDefinition": deployment.task_definition,
            "LaunchType": "FARGATE",
            "NetworkConfiguration": {
                "AwsvpcConfiguration": {"Subnets": [deployment.subnet], "AssignPublicIp": "DISABLED"}
            },
            "Overrides": {
                "ContainerOverrides": [
                    {
                        "Name": CONTAINER,
                        "Environment": [
                            {"Name": "INDEX", "Value": "0"},
                            {"Name": "RUN_ID", "Value": "exit1"},
                            {"Name": "FAIL", "Value": "1"},
                        ],
                    }
                ]
            },
        },
        "TimeoutSeconds": 120,
    }
    described = run_single_task(clients, task, {})
    assert described["status"] == "FAILED"
    assert described["error"] == "States.TaskFailed"
    cause = json.loads(described["cause"])
    assert cause["Containers"][0]["ExitCode"] == 1
    assert cause["LastStatus"] == "STOPPED"
    assert cause["StopCode"] == "EssentialContainerExited"
