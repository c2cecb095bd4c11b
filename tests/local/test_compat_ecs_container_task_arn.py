"""ecs_container_task_arn: a container's taskArn is its task's ARN."""

from __future__ import annotations

from perflab.local.compat import ecs_container_task_arn, moto_is_patched_version
from tests.conftest import ClientFactory
from tests.local.ecs_helpers import make_ecs_env, register, run, wait_task


def test_gap_is_present_in_pinned_moto() -> None:
    assert ecs_container_task_arn.PATCH.needed() or not moto_is_patched_version()


def test_container_task_arn_is_the_task_arn(aws: ClientFactory) -> None:
    env, ecs = make_ecs_env(aws), aws("ecs")
    task = run(ecs, env, register(ecs, ["python", "-c", "pass"]))
    assert task["containers"][0]["taskArn"] == task["taskArn"]
    assert wait_task(ecs, env, task["taskArn"])["containers"][0]["taskArn"] == task["taskArn"]
