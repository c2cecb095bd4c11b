"""Helpers for tests of the local ECS agent: a cluster, a subnet, task definitions, waiting."""

from __future__ import annotations

import time
from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from typing import Any

from tests.conftest import ClientFactory, unique
from tests.local.helpers import create_table

TERMINAL = "STOPPED"


@dataclass(frozen=True)
class EcsEnv:
    cluster: str
    subnet: str
    table: str

    def network(self, subnet: str | None = None) -> dict[str, Any]:
        return {"awsvpcConfiguration": {"subnets": [subnet or self.subnet], "assignPublicIp": "ENABLED"}}


def make_ecs_env(aws: ClientFactory) -> EcsEnv:
    """A cluster, the default VPC's first subnet, and a DynamoDB table tasks write evidence to."""
    cluster = unique("cluster")
    aws("ecs").create_cluster(clusterName=cluster)
    subnet = aws("ec2").describe_subnets()["Subnets"][0]["SubnetId"]
    table = create_table(aws, "evidence", key="id")
    return EcsEnv(cluster=cluster, subnet=subnet, table=table)


def register(
    ecs: Any,
    command: Sequence[str],
    environment: Mapping[str, str] | None = None,
    **container: Any,
) -> str:
    """Register a FARGATE task definition with one container ``main``; return its ARN."""
    definition: dict[str, Any] = {
        "name": "main",
        "image": "public.ecr.aws/docker/library/python:3.11-slim",
        "command": list(command),
        "environment": [{"name": k, "value": v} for k, v in (environment or {}).items()],
        "essential": True,
        **container,
    }
    arn: str = ecs.register_task_definition(
        family=unique("family"),
        requiresCompatibilities=["FARGATE"],
        networkMode="awsvpc",
        cpu="256",
        memory="512",
        containerDefinitions=[definition],
    )["taskDefinition"]["taskDefinitionArn"]
    return arn


def run(ecs: Any, env: EcsEnv, task_definition: str, **kwargs: Any) -> dict[str, Any]:
    response = ecs.run_task(
        cluster=env.cluster,
        taskDefinition=task_definition,
        launchType="FARGATE",
        networkConfiguration=kwargs.pop("networkConfiguration", env.network()),
        **kwargs,
    )
    assert response["failures"] == []
    task: dict[str, Any] = response["tasks"][0]
    return task


def wait_task(
    ecs: Any, env: EcsEnv, task_arn: str, status: str = TERMINAL, timeout: float = 30.0
) -> dict[str, Any]:
    """Poll DescribeTasks until the task's lastStatus is ``status`` (or STOPPED)."""
    deadline = time.monotonic() + timeout
    while True:
        task: dict[str, Any] = ecs.describe_tasks(cluster=env.cluster, tasks=[task_arn])["tasks"][0]
        if task["lastStatus"] in (status, TERMINAL):
            return task
        if time.monotonic() > deadline:
            raise AssertionError(f"task {task_arn} is {task['lastStatus']} after {timeout} s, not {status}")
        time.sleep(0.05)


def get_item(aws: ClientFactory, table: str, item_id: str) -> dict[str, Any] | None:
    item: dict[str, Any] | None = (
        aws("dynamodb").get_item(TableName=table, Key={"id": {"S": item_id}}, ConsistentRead=True).get("Item")
    )
    return item
