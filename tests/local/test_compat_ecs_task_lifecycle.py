"""ecs_task_lifecycle: DescribeTasks does not move a running task towards STOPPED."""

from __future__ import annotations

from perflab.local.compat import ecs_task_lifecycle, moto_is_patched_version
from tests.conftest import ClientFactory
from tests.local.ecs_helpers import make_ecs_env, register, run, wait_task


def test_gap_is_present_in_pinned_moto() -> None:
    assert ecs_task_lifecycle.PATCH.needed() or not moto_is_patched_version()


def test_describing_a_running_task_leaves_it_running(aws: ClientFactory) -> None:
    env, ecs = make_ecs_env(aws), aws("ecs")
    arn = register(ecs, ["python", "-c", "import time; time.sleep(60)"])
    task_arn = run(ecs, env, arn)["taskArn"]
    assert wait_task(ecs, env, task_arn, "RUNNING")["lastStatus"] == "RUNNING"
    for _ in range(10):
        assert (
            ecs.describe_tasks(cluster=env.cluster, tasks=[task_arn])["tasks"][0]["lastStatus"] == "RUNNING"
        )
    ecs.stop_task(cluster=env.cluster, task=task_arn)
    assert wait_task(ecs, env, task_arn)["stopCode"] == "UserInitiated"
