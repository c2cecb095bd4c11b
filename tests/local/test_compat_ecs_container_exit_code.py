"""ecs_container_exit_code: no exitCode while the container runs; the real one once it stopped."""

from __future__ import annotations

from perflab.local.compat import ecs_container_exit_code, moto_is_patched_version
from tests.conftest import ClientFactory
from tests.local.ecs_helpers import make_ecs_env, register, run, wait_task


def test_gap_is_present_in_pinned_moto() -> None:
    assert ecs_container_exit_code.PATCH.needed() or not moto_is_patched_version()


def test_exit_code_absent_while_running_then_real(aws: ClientFactory) -> None:
    env, ecs = make_ecs_env(aws), aws("ecs")
    arn = register(ecs, ["python", "-c", "import time; time.sleep(60)"])
    task_arn = run(ecs, env, arn)["taskArn"]
    running = wait_task(ecs, env, task_arn, "RUNNING")
    assert running["lastStatus"] == "RUNNING"
    assert "exitCode" not in running["containers"][0]
    ecs.stop_task(cluster=env.cluster, task=task_arn)
    assert wait_task(ecs, env, task_arn)["containers"][0]["exitCode"] == 143

    failing = register(ecs, ["python", "-c", "raise SystemExit(42)"])
    stopped = wait_task(ecs, env, run(ecs, env, failing)["taskArn"])
    assert stopped["containers"][0].get("exitCode") == 42, stopped
