"""ecs_fargate_container_memory: a Fargate container without memory runs (task-level memory set)."""

from __future__ import annotations

from perflab.local.compat import ecs_fargate_container_memory, moto_is_patched_version
from tests.conftest import ClientFactory
from tests.local.ecs_helpers import make_ecs_env, register, run, wait_task


def test_gap_is_present_in_pinned_moto() -> None:
    assert ecs_fargate_container_memory.PATCH.needed() or not moto_is_patched_version()


def test_container_without_memory_runs(aws: ClientFactory) -> None:
    env, ecs = make_ecs_env(aws), aws("ecs")
    arn = register(ecs, ["python", "-c", "pass"])  # no container-level memory or memoryReservation
    described = ecs.describe_task_definition(taskDefinition=arn)["taskDefinition"]
    assert "memory" not in described["containerDefinitions"][0]
    task = wait_task(ecs, env, run(ecs, env, arn)["taskArn"])
    assert task["containers"][0]["exitCode"] == 0
    assert task["memory"] == "512"
