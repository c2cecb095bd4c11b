"""moto advances ECS tasks to STOPPED by itself: leave the lifecycle to the ECS agent.

moto's ``Task`` is a ``ManagedState`` with the transitions RUNNING → DEACTIVATING → STOPPING →
DEPROVISIONING → STOPPED, and ``describe_tasks`` ticks it on every call. A few ``DescribeTasks``
later the task reads STOPPED, so a Step Functions ``ecs:runTask.sync`` state "finishes" without the
task having run. The fix empties each task's transition table after construction: ``lastStatus``
then changes only when set, which the local ECS agent does as the task's process starts and exits.
"""

from __future__ import annotations

from typing import Any

from perflab.local.compat import CompatPatch
from perflab.local.compat.ecs_support import ecs_model, wrap_init

NAME = "ecs_task_lifecycle"


def needed() -> bool:
    from moto.moto_api._internal.managed_state_model import ManagedState

    task = ecs_model("Task")
    return task is not None and issubclass(task, ManagedState)


def _no_transitions(task: Any) -> None:
    # No transitions: ManagedState.status then always returns the status last set.
    task._transitions = []


def apply() -> None:
    wrap_init(ecs_model("Task"), NAME, after=_no_transitions)


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
