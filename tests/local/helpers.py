"""Helpers for local-cloud tests."""

from __future__ import annotations

import json
import os
import time
from pathlib import Path
from typing import Any

from perflab.local.stack import LocalCloudInfo
from tests.conftest import ClientFactory, make_client_factory, unique

ROLE_ARN = "arn:aws:iam::123456789012:role/perflab-test"

#: The trust policy of a Lambda function's execution role.
LAMBDA_TRUST = {
    "Version": "2012-10-17",
    "Statement": [
        {"Effect": "Allow", "Principal": {"Service": "lambda.amazonaws.com"}, "Action": "sts:AssumeRole"}
    ],
}


def wait_for_execution(sfn: Any, execution_arn: str, timeout: float = 120.0) -> dict[str, Any]:
    """Poll DescribeExecution until the execution leaves RUNNING (as a client of AWS would)."""
    deadline = time.monotonic() + timeout
    while True:
        described: dict[str, Any] = sfn.describe_execution(executionArn=execution_arn)
        if described["status"] != "RUNNING":
            return described
        if time.monotonic() > deadline:
            raise AssertionError(f"{execution_arn} still RUNNING after {timeout} s")
        time.sleep(0.1)


def distributed_map(
    start_at: str, states: dict[str, Any], execution_type: str = "STANDARD", **fields: Any
) -> dict[str, Any]:
    """A definition whose one state ``Fanout`` is a Distributed Map over ``$.items``; each item runs
    the states ``states`` from ``start_at`` as a child execution. ``fields`` go on the Map state."""
    processor = {
        "ProcessorConfig": {"Mode": "DISTRIBUTED", "ExecutionType": execution_type},
        "StartAt": start_at,
        "States": states,
    }
    fanout = {"Type": "Map", "ItemsPath": "$.items", **fields, "ItemProcessor": processor, "End": True}
    return {"StartAt": "Fanout", "States": {"Fanout": fanout}}


def create_state_machine(
    sfn: Any, definition: dict[str, Any] | str, name_prefix: str = "sm", role_arn: str = ROLE_ARN
) -> str:
    """CreateStateMachine under a unique name; ``definition`` as a dict or as the exact JSON text."""
    text = definition if isinstance(definition, str) else json.dumps(definition)
    arn: str = sfn.create_state_machine(name=unique(name_prefix), definition=text, roleArn=role_arn)[
        "stateMachineArn"
    ]
    return arn


def start_execution(sfn: Any, state_machine_arn: str, execution_input: Any = None) -> str:
    """StartExecution with ``execution_input`` as JSON (``{}`` when None); return the execution ARN."""
    payload = json.dumps({} if execution_input is None else execution_input)
    arn: str = sfn.start_execution(stateMachineArn=state_machine_arn, input=payload)["executionArn"]
    return arn


def run_state_machine(
    sfn: Any,
    definition: dict[str, Any] | str,
    execution_input: Any = None,
    *,
    name_prefix: str = "sm",
    role_arn: str = ROLE_ARN,
    timeout: float = 60.0,
) -> dict[str, Any]:
    """Create a state machine, run it once and return DescribeExecution's answer once it has ended."""
    arn = create_state_machine(sfn, definition, name_prefix, role_arn)
    return wait_for_execution(sfn, start_execution(sfn, arn, execution_input), timeout=timeout)


def create_table(aws: ClientFactory, name_prefix: str, key: str = "pk") -> str:
    """An on-demand DynamoDB table with a string hash key ``key``; return its name."""
    table = unique(name_prefix)
    aws("dynamodb").create_table(
        TableName=table,
        KeySchema=[{"AttributeName": key, "KeyType": "HASH"}],
        AttributeDefinitions=[{"AttributeName": key, "AttributeType": "S"}],
        BillingMode="PAY_PER_REQUEST",
    )
    return table


def create_lambda_role(aws: ClientFactory) -> str:
    """An IAM role Lambda functions can run as; return its ARN."""
    role = aws("iam").create_role(RoleName=unique("role"), AssumeRolePolicyDocument=json.dumps(LAMBDA_TRUST))
    arn: str = role["Role"]["Arn"]
    return arn


def no_retry_client(info: LocalCloudInfo, service: str, max_pool_connections: int = 10) -> Any:
    """A client that makes one attempt per call: an error reaches the test instead of being retried."""
    return make_client_factory(info, max_attempts=1, max_pool_connections=max_pool_connections)(service)


def wait_for_file(path: Path, timeout: float = 30.0) -> str:
    """Wait until ``path`` exists; return its text."""
    deadline = time.monotonic() + timeout
    while not path.exists():
        assert time.monotonic() < deadline, f"{path} never appeared"
        time.sleep(0.05)
    return path.read_text()


def pid_gone(pid: int, timeout: float = 5.0) -> bool:
    """True once no process ``pid`` exists; False if it still does after ``timeout`` seconds."""
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        try:
            os.kill(pid, 0)
        except ProcessLookupError:
            return True
        time.sleep(0.05)
    return False
