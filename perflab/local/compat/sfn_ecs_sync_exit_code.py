"""Step Functions: ``ecs:runTask.sync`` fails when the task's container exits non-zero, as on AWS.

moto's ``.sync`` resolver for ECS returns the task description as soon as ``lastStatus`` is STOPPED,
whatever the container exit code, so a task that exits 1 (or never started) "succeeds". AWS fails the
Task state with ``States.TaskFailed`` whose cause is the stopped task's description (JSON, PascalCase).
This patch makes the resolver raise for a stopped task with a container whose exit code is not 0
(including a container that never ran: no exit code), and turns that into a ``TaskFailed`` event with
error ``States.TaskFailed`` — catchable and retryable like any Task failure.
"""

from __future__ import annotations

import json
from typing import Any

from perflab.local.compat import CompatPatch
from perflab.local.compat.sfn_support import import_attr, is_marked, mark

NAME = "sfn_ecs_sync_exit_code"
_ECS = "moto.stepfunctions.parser.asl.component.state.exec.state_task.service.state_task_service_ecs"
_CLASS = f"{_ECS}.StateTaskServiceEcs"


class EcsTaskFailed(RuntimeError):
    """A ``.sync`` ECS task stopped with a failed container."""

    def __init__(self, task: dict[str, Any]) -> None:
        super().__init__("ECS task failed")
        self.task = task


def task_failed(task: dict[str, Any]) -> bool:
    """True when a stopped task (SFN-cased DescribeTasks entry) did not succeed."""
    containers = task.get("Containers") or []
    if task.get("StopCode") == "TaskFailedToStart" or not containers:
        return True
    return any(c.get("ExitCode") != 0 for c in containers)


def _wrap_build_sync_resolver(original: Any) -> Any:
    def _build_sync_resolver(self: Any, *args: Any, **kwargs: Any) -> Any:
        resolver = original(self, *args, **kwargs)
        if resolver is None:
            return None

        def _sync_resolver() -> Any:
            result = resolver()
            if isinstance(result, dict) and result.get("LastStatus") == "STOPPED" and task_failed(result):
                raise EcsTaskFailed(result)
            return result

        return _sync_resolver

    return mark(_build_sync_resolver, NAME)


def _make_from_error(cls: Any) -> Any:
    own = cls.__dict__.get("_from_error")

    def _from_error(self: Any, env: Any, ex: Exception) -> Any:
        if isinstance(ex, EcsTaskFailed):
            return _task_failed_event(self, env, ex)
        if own is not None:
            return own(self, env, ex)
        return super(cls, self)._from_error(env, ex)

    return mark(_from_error, NAME)


def _task_failed_event(service: Any, env: Any, ex: EcsTaskFailed) -> Any:
    from moto.stepfunctions.parser.api import HistoryEventType, TaskFailedEventDetails
    from moto.stepfunctions.parser.asl.component.common.error_name.failure_event import FailureEvent
    from moto.stepfunctions.parser.asl.component.common.error_name.states_error_name import (
        StatesErrorName,
    )
    from moto.stepfunctions.parser.asl.component.common.error_name.states_error_name_type import (
        StatesErrorNameType,
    )
    from moto.stepfunctions.parser.asl.eval.event.event_detail import EventDetails

    error = StatesErrorNameType.StatesTaskFailed
    return FailureEvent(
        env=env,
        error_name=StatesErrorName(typ=error),
        event_type=HistoryEventType.TaskFailed,
        event_details=EventDetails(
            taskFailedEventDetails=TaskFailedEventDetails(
                resourceType=service._get_sfn_resource_type(),
                resource=service._get_sfn_resource(),
                error=error.to_name(),
                cause=json.dumps(ex.task, default=str, separators=(",", ":")),
            )
        ),
    )


def _needed() -> bool:
    cls = import_attr(_CLASS)
    if cls is None or "_build_sync_resolver" not in cls.__dict__:
        return False
    if is_marked(cls.__dict__["_build_sync_resolver"]):
        return False
    import inspect

    source = inspect.getsource(cls.__dict__["_build_sync_resolver"])
    # The gapped resolver decides on lastStatus alone and never looks at an exit code.
    return "STOPPED" in source and "xitCode" not in source


def _apply() -> None:
    cls: Any = import_attr(_CLASS)
    if is_marked(cls.__dict__["_build_sync_resolver"]):
        return
    cls._from_error = _make_from_error(cls)
    cls._build_sync_resolver = _wrap_build_sync_resolver(cls.__dict__["_build_sync_resolver"])


PATCH = CompatPatch(
    name=NAME,
    gap="ecs:runTask.sync succeeded whatever the container's exit code; AWS fails the state with "
    "States.TaskFailed and the stopped task as cause",
    touches=(
        f"{_CLASS}._build_sync_resolver",
        f"{_CLASS}._from_error",
        "moto.stepfunctions.parser.asl.component.common.error_name.failure_event.FailureEvent",
        "moto.stepfunctions.parser.asl.component.common.error_name.states_error_name.StatesErrorName",
    ),
    needed=_needed,
    apply=_apply,
)
