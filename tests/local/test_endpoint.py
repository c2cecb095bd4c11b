"""The endpoint serves the control planes boto3 needs, and executes state machines."""

from __future__ import annotations

import json

from tests.conftest import ClientFactory, unique
from tests.local.helpers import distributed_map, run_state_machine


def test_control_planes_answer(aws: ClientFactory) -> None:
    bucket = unique("bucket")
    aws("s3").create_bucket(Bucket=bucket)
    aws("s3").put_object(Bucket=bucket, Key="k", Body=b"hello")
    assert aws("s3").get_object(Bucket=bucket, Key="k")["Body"].read() == b"hello"
    assert "TableNames" in aws("dynamodb").list_tables()
    assert "Functions" in aws("lambda").list_functions()
    assert "clusterArns" in aws("ecs").list_clusters()
    assert "logGroups" in aws("logs").describe_log_groups()
    assert "Roles" in aws("iam").list_roles()


def test_state_machine_executes_distributed_map(aws: ClientFactory) -> None:
    double = {"Type": "Pass", "Parameters": {"value.$": "States.MathAdd($, $)"}, "End": True}
    definition = distributed_map("Double", {"Double": double}, MaxConcurrency=100)
    waiter_status = run_state_machine(
        aws("stepfunctions"), definition, {"items": list(range(20))}, timeout=120
    )
    assert waiter_status["status"] == "SUCCEEDED"
    assert json.loads(waiter_status["output"]) == [{"value": 2 * i} for i in range(20)]
