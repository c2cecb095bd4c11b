"""Helpers for the Step Functions compat-patch tests (``test_compat_sfn_*``)."""

from __future__ import annotations

import contextlib
import io
import zipfile
from collections.abc import Iterator
from dataclasses import dataclass
from typing import Any

import pytest

from perflab.local.compat import DISABLE_ENV
from perflab.local.process import local_cloud_process
from perflab.local.stack import LocalCloudConfig
from tests.conftest import ClientFactory, make_client_factory, unique
from tests.local.helpers import create_lambda_role


@contextlib.contextmanager
def stack_without(*patch_names: str) -> Iterator[ClientFactory]:
    """A separate local cloud with compat patches left out, to show their gaps are real."""
    with pytest.MonkeyPatch.context() as monkeypatch:
        # The stack process inherits os.environ.
        monkeypatch.setenv(DISABLE_ENV, ",".join(patch_names))
        with local_cloud_process(LocalCloudConfig(port=0, database=False)) as info:
            yield make_client_factory(info)


def task(resource: str, parameters: dict[str, Any], **fields: Any) -> dict[str, Any]:
    """A one-state definition: a Task with ``parameters`` and extra state ``fields``."""
    state = {"Type": "Task", "Resource": resource, "Parameters": parameters, "End": True, **fields}
    return {"StartAt": "Task", "States": {"Task": state}}


def history_types(aws: ClientFactory, execution_arn: str) -> list[str]:
    events = aws("stepfunctions").get_execution_history(executionArn=execution_arn, maxResults=1000)
    return [event["type"] for event in events["events"]]


@dataclass(frozen=True)
class EcsSetup:
    cluster: str
    task_definition: str
    subnet: str
    security_group: str

    def run_task_parameters(self) -> dict[str, Any]:
        """ecs:runTask Parameters in Step Functions' PascalCase."""
        return {
            "Cluster": self.cluster,
            "TaskDefinition": self.task_definition,
            "LaunchType": "FARGATE",
            "NetworkConfiguration": {
                "AwsvpcConfiguration": {
                    "Subnets": [self.subnet],
                    "SecurityGroups": [self.security_group],
                    "AssignPublicIp": "ENABLED",
                }
            },
            "Overrides": {
                "ContainerOverrides": [
                    {"Name": "main", "Environment": [{"Name": "PERFLAB_TEST", "Value": "1"}]}
                ]
            },
        }


def make_ecs(aws: ClientFactory) -> EcsSetup:
    """A cluster, a FARGATE task definition (container with ``memory``) and a VPC made through EC2."""
    ec2 = aws("ec2")
    vpc = ec2.create_vpc(CidrBlock="10.77.0.0/16")["Vpc"]["VpcId"]
    ec2.modify_vpc_attribute(VpcId=vpc, EnableDnsHostnames={"Value": True})
    subnet = ec2.create_subnet(VpcId=vpc, CidrBlock="10.77.1.0/24")["Subnet"]["SubnetId"]
    group = ec2.create_security_group(GroupName=unique("sg"), Description="perflab test", VpcId=vpc)
    ecs = aws("ecs")
    cluster = ecs.create_cluster(clusterName=unique("cluster"))["cluster"]["clusterArn"]
    task_definition = ecs.register_task_definition(
        family=unique("family"),
        requiresCompatibilities=["FARGATE"],
        networkMode="awsvpc",
        cpu="256",
        memory="512",
        containerDefinitions=[
            {
                "name": "main",
                "image": "public.ecr.aws/docker/library/python:3.11-slim",
                "command": ["python", "-c", "pass"],
                "memory": 512,
                "essential": True,
            }
        ],
    )["taskDefinition"]["taskDefinitionArn"]
    return EcsSetup(cluster, task_definition, subnet, group["GroupId"])


def make_queue(aws: ClientFactory) -> str:
    url: str = aws("sqs").create_queue(QueueName=unique("queue"))["QueueUrl"]
    return url


ECHO_HANDLER = """
def handler(event, context):
    return event
"""


def make_echo_function(aws: ClientFactory) -> str:
    """A zip-deployed Python function that returns its event."""
    buffer = io.BytesIO()
    with zipfile.ZipFile(buffer, "w") as archive:
        archive.writestr("echo.py", ECHO_HANDLER)
    name = unique("echo")
    aws("lambda").create_function(
        FunctionName=name,
        Runtime="python3.11",
        Role=create_lambda_role(aws),
        Handler="echo.handler",
        Code={"ZipFile": buffer.getvalue()},
        Timeout=30,
    )
    return name
