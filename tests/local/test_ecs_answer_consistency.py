"""ECS answers are consistent snapshots: a task read as STOPPED always carries its exit code.

moto serialises an answer from the task object after the backend returned, while the ECS agent's
reaper thread may be stopping that task. Once, in CI, a Step Functions ``ecs:runTask.sync`` state
failed a task that had exited 0, and ``DescribeTasks`` returned a STOPPED task whose container had no
``exitCode``: the answer was read half before, half after the task stopped. The stack here loads
``slow_ecs_answers/sitecustomize.py``, which holds every answer for 50 ms between a container without
an exit code and the task's ``lastStatus``, so tasks exit inside that window again and again; without
the agent's snapshots, nearly every task below was read that way.
"""

from __future__ import annotations

import os
import threading
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest

from perflab.local.process import local_cloud_process
from perflab.local.stack import LocalCloudConfig, LocalCloudInfo
from tests.conftest import make_client_factory
from tests.local.ecs_helpers import make_ecs_env, register, run

HOOK_DIR = Path(__file__).parent / "slow_ecs_answers"
TASKS = 12


@pytest.fixture
def slow_answers_cloud(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> Iterator[tuple[LocalCloudInfo, Path]]:
    log = tmp_path / "slow-answers.log"
    log.touch()
    monkeypatch.setenv(
        "PYTHONPATH", os.pathsep.join(filter(None, [str(HOOK_DIR), os.environ.get("PYTHONPATH")]))
    )
    monkeypatch.setenv("PERFLAB_SLOW_ECS_ANSWERS_LOG", str(log))
    with local_cloud_process(LocalCloudConfig(port=0, database=False)) as info:
        yield info, log


def test_a_stopped_task_is_never_read_without_its_exit_code(
    slow_answers_cloud: tuple[LocalCloudInfo, Path],
) -> None:
    info, log = slow_answers_cloud
    aws = make_client_factory(info)
    env = make_ecs_env(aws)
    ecs = aws("ecs")
    definition = register(ecs, ["python", "-c", "import time; time.sleep(0.3)"])
    arns = [run(ecs, env, definition)["taskArn"] for _ in range(TASKS)]

    stopped: dict[str, dict[str, Any]] = {}
    errors: list[BaseException] = []

    def poll(task_arn: str) -> None:
        client = aws("ecs")
        try:
            while True:
                task = client.describe_tasks(cluster=env.cluster, tasks=[task_arn])["tasks"][0]
                if task["lastStatus"] == "STOPPED":
                    stopped[task_arn] = task
                    return
        except BaseException as error:  # reported below, with the task it concerns
            errors.append(error)

    threads = [threading.Thread(target=poll, args=(arn,)) for arn in arns]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join()

    assert errors == []
    assert sorted(stopped) == sorted(arns)
    for task in stopped.values():
        container = task["containers"][0]
        assert container.get("exitCode") == 0, task
        assert container["lastStatus"] == "STOPPED", task
        assert task["stopCode"] == "EssentialContainerExited", task
        assert "stoppedAt" in task and "executionStoppedAt" in task, task
    # The window was held open: every task was answered at least once while it had no exit code.
    held = set(log.read_text().split())
    assert {arn.rsplit("/", 1)[-1] for arn in arns} <= held
