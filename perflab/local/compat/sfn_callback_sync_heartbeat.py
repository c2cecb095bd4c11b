"""Step Functions ``.sync`` tasks do not wait for heartbeats.

moto sets up a heartbeat watcher for every callback-capable Task with ``HeartbeatSeconds`` and hands it
to the ``.sync`` poller too, so a ``.sync`` task (``ecs:runTask.sync``, ``states:startExecution.sync``)
that runs longer than ``HeartbeatSeconds`` fails with a heartbeat timeout although nothing could ever
send it a heartbeat. This patch runs the ``.sync`` poller without the heartbeat watcher; the task's
``TimeoutSeconds`` still applies.
"""

from __future__ import annotations

from typing import Any

from perflab.local.compat import CompatPatch
from perflab.local.compat.sfn_support import import_attr, is_marked, mark, source_of

NAME = "sfn_callback_sync_heartbeat"
_TARGET = (
    "moto.stepfunctions.parser.asl.component.state.exec.state_task.service."
    "state_task_service_callback.StateTaskServiceCallback"
)


def _wrap(original: Any) -> Any:
    def _eval_sync(
        self: Any,
        env: Any,
        sync_resolver: Any,
        timeout_seconds: Any,
        callback_endpoint: Any,
        heartbeat_endpoint: Any,
    ) -> Any:
        return original(
            self,
            env=env,
            sync_resolver=sync_resolver,
            timeout_seconds=timeout_seconds,
            callback_endpoint=callback_endpoint,
            heartbeat_endpoint=None,
        )

    return mark(_eval_sync, NAME)


def needed() -> bool:
    cls = import_attr(_TARGET)
    method = None if cls is None else cls.__dict__.get("_eval_sync")
    if method is None or is_marked(method):
        return False
    # The gap: the .sync poller passes the heartbeat watcher on to its token listener.
    return "heartbeat_endpoint=heartbeat_endpoint" in (source_of(method) or "")


def apply() -> None:
    cls = import_attr(_TARGET)
    if cls is None:
        return
    method = cls.__dict__["_eval_sync"]
    if not is_marked(method):
        cls._eval_sync = _wrap(method)


PATCH = CompatPatch(
    name=NAME,
    gap=".sync tasks with HeartbeatSeconds fail with a heartbeat timeout: moto waits for heartbeats",
    touches=(f"{_TARGET}._eval_sync",),
    needed=needed,
    apply=apply,
)
