"""ecs_backend_lock: concurrent RunTask and DescribeTasks all succeed (no HTTP 500)."""

from __future__ import annotations

from concurrent.futures import ThreadPoolExecutor

import boto3
from botocore.config import Config

from perflab.local.compat import ecs_backend_lock, moto_is_patched_version
from perflab.local.stack import LocalCloudInfo
from tests.conftest import ClientFactory
from tests.local.ecs_helpers import make_ecs_env, register, run


def test_gap_is_present_in_pinned_moto() -> None:
    assert ecs_backend_lock.PATCH.needed() or not moto_is_patched_version()


def test_concurrent_run_and_describe_tasks_succeed(aws: ClientFactory, local_cloud: LocalCloudInfo) -> None:
    env = make_ecs_env(aws)
    # No retries: a single HTTP 500 must fail the test, not be retried away.
    ecs = boto3.client(
        "ecs",
        endpoint_url=local_cloud.endpoint_url,
        region_name=local_cloud.region,
        aws_access_key_id="perflab-local",
        aws_secret_access_key="perflab-local-secret",
        config=Config(retries={"max_attempts": 1, "mode": "standard"}, max_pool_connections=40),
    )
    arn = register(ecs, ["python", "-c", "pass"])
    first = run(ecs, env, arn)["taskArn"]

    def run_and_describe(_: int) -> int:
        task_arn = run(ecs, env, arn)["taskArn"]
        described = ecs.describe_tasks(cluster=env.cluster, tasks=[first, task_arn])["tasks"]
        listed = ecs.list_tasks(cluster=env.cluster)["taskArns"]
        assert task_arn in listed
        return len(described)

    with ThreadPoolExecutor(max_workers=30) as pool:
        assert list(pool.map(run_and_describe, range(60))) == [2] * 60
