"""moto advances ECS tasks to STOPPED by itself: leave the lifecycle to the ECS agent.

moto's ``Task`` is a ``ManagedState`` with the transitions RUNNING → DEACTIVATING → STOPPING →
DEPROVISIONING → STOPPED, and ``describe_tasks`` ticks it on every call. A few ``DescribeTasks``
later the task reads STOPPED, so a Step Functions ``ecs:runTask.sync`` state "finishes" without the
task having run. The fix empties each task's transition table after construction: ``lastStatus``
then changes only when set, which the local ECS agent does as the task's process starts and exits.
"""

from __future__ import annotations

import functools
from typing import Any

from perflab.local.compat import CompatPatch

NAME = "ecs_task_lifecycle"
_MARKER = "__perflab_no_auto_transitions__"


def _task_class() -> Any:
    from moto.ecs import models

    return getattr(models, "Task", None)


def needed() -> bool:
    from moto.moto_api._internal.managed_state_model import ManagedState

    task = _task_class()
    return task is not None and issubclass(task, ManagedState)


def apply() -> None:
    task = _task_class()
    original = task.__init__
    if getattr(original, _MARKER, False):
        return

    @functools.wraps(original)
    def __init__(self: Any, *args: Any, **kwargs: Any) -> None:
        original(self, *args, **kwargs)
        # No transitions: ManagedState.status then always returns the status last set.
        self._transitions = []

    setattr(__init__, _MARKER, True)
    task.__init__ = __init__


PATCH = CompatPatch(
    name=NAME,
    gap="moto moves ECS tasks to STOPPED by itself after a few DescribeTasks calls",
    touches=(
        "moto.ecs.models.Task.__init__",
        "moto.moto_api._internal.managed_state_model.ManagedState._transitions",
    ),
    needed=needed,
    apply=apply,
)
