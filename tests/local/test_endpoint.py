"""The endpoint serves the control planes boto3 needs, and executes state machines."""

from __future__ import annotations

import json

from tests.conftest import ClientFactory, unique
from tests.local.helpers import wait_for_execution


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
    sfn = aws("stepfunctions")
    definition = {
        "StartAt": "Fanout",
        "States": {
            "Fanout": {
                "Type": "Map",
                "ItemsPath": "$.items",
                "MaxConcurrency": 100,
                "ItemProcessor": {
                    "ProcessorConfig": {"Mode": "DISTRIBUTED", "ExecutionType": "STANDARD"},
                    "StartAt": "Double",
                    "States": {
                        "Double": {
                            "Type": "Pass",
                            "Parameters": {"value.$": "States.MathAdd($, $)"},
                            "End": True,
                        }
                    },
                },
                "End": True,
            }
        },
    }
    arn = sfn.create_state_machine(
        name=unique("sm"),
        definition=json.dumps(definition),
        roleArn="arn:aws:iam::123456789012:role/perflab-test",
    )["stateMachineArn"]
    execution_arn = sfn.start_execution(stateMachineArn=arn, input=json.dumps({"items": list(range(20))}))[
        "executionArn"
    ]
    waiter_status = wait_for_execution(sfn, execution_arn)
    assert waiter_status["status"] == "SUCCEEDED"
    assert json.loads(waiter_status["output"]) == [{"value": 2 * i} for i in range(20)]
