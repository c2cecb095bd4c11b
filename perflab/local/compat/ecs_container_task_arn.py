"""moto gives each ECS container its task *definition's* ARN as ``taskArn``.

``describe_tasks`` then answers ``containers[0].taskArn = arn:…:task-definition/f:1`` where AWS
answers the task's own ARN; code that correlates containers to tasks (and ``.sync`` output that
passes the description on) sees the wrong ARN. The fix sets each container's ``task_arn`` to the
task's ARN once the task exists.
"""

from __future__ import annotations

import functools
from typing import Any

from perflab.local.compat import CompatPatch

NAME = "ecs_container_task_arn"
_MARKER = "__perflab_container_task_arn__"


def _task_class() -> Any:
    from moto.ecs import models

    return getattr(models, "Task", None)


def needed() -> bool:
    import inspect

    from moto.ecs import models

    container = getattr(models, "Container", None)
    if _task_class() is None or container is None:
        return False
    return "self.task_arn = task_def.arn" in inspect.getsource(container.__init__)


def apply() -> None:
    task = _task_class()
    original = task.__init__
    if getattr(original, _MARKER, False):
        return

    @functools.wraps(original)
    def __init__(self: Any, *args: Any, **kwargs: Any) -> None:
        original(self, *args, **kwargs)
        for container in self.containers:
            container.task_arn = self.task_arn

    setattr(__init__, _MARKER, True)
    task.__init__ = __init__


PATCH = CompatPatch(
    name=NAME,
    gap="moto sets an ECS container's taskArn to its task definition's ARN",
    touches=("moto.ecs.models.Task.__init__", "moto.ecs.models.Container.task_arn"),
    needed=needed,
    apply=apply,
)
