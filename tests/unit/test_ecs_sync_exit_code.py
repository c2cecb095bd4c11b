"""Which stopped ECS tasks fail a runTask.sync state (pure logic of sfn_ecs_sync_exit_code)."""

from __future__ import annotations

import pytest

from perflab.local.compat.sfn_ecs_sync_exit_code import task_failed


@pytest.mark.parametrize(
    ("task", "failed"),
    [
        ({"StopCode": "EssentialContainerExited", "Containers": [{"ExitCode": 0}]}, False),
        ({"StopCode": "EssentialContainerExited", "Containers": [{"ExitCode": 1}]}, True),
        ({"StopCode": "EssentialContainerExited", "Containers": [{"ExitCode": 0}, {"ExitCode": 137}]}, True),
        ({"StopCode": "TaskFailedToStart", "Containers": [{}]}, True),
        ({"StopCode": "UserInitiated", "Containers": [{}]}, True),
        ({"StopCode": "EssentialContainerExited", "Containers": []}, True),
    ],
)
def test_task_failed(task: dict[str, object], failed: bool) -> None:
    assert task_failed(task) is failed  # type: ignore[arg-type]
