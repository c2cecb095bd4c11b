"""moto gives each ECS container its task *definition's* ARN as ``taskArn``.

``describe_tasks`` then answers ``containers[0].taskArn = arn:…:task-definition/f:1`` where AWS
answers the task's own ARN; code that correlates containers to tasks (and ``.sync`` output that
passes the description on) sees the wrong ARN. The fix sets each container's ``task_arn`` to the
task's ARN once the task exists.
"""

from __future__ import annotations

import inspect
from typing import Any

from perflab.local.compat import CompatPatch
from perflab.local.compat.ecs_support import ecs_model, wrap_init

NAME = "ecs_container_task_arn"


def needed() -> bool:
    container = ecs_model("Container")
    if ecs_model("Task") is None or container is None:
        return False
    return "self.task_arn = task_def.arn" in inspect.getsource(container.__init__)


def _containers_get_task_arn(task: Any) -> None:
    for container in task.containers:
        container.task_arn = task.task_arn


def apply() -> None:
    wrap_init(ecs_model("Task"), NAME, after=_containers_get_task_arn)


PATCH = CompatPatch(
    name=NAME,
    gap="moto sets an ECS container's taskArn to its task definition's ARN",
    touches=("moto.ecs.models.Task.__init__", "moto.ecs.models.Container.task_arn"),
    needed=needed,
    apply=apply,
)
