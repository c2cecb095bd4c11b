"""Step Functions: ``$$.Execution.StartTime`` is an ISO 8601 string, as on AWS.

moto's interpreter puts the execution's start ``datetime`` into the context object as it is, so a
state that passes ``$$.Execution.StartTime`` on (into ECS overrides, a Lambda payload, a DynamoDB
item) fails with ``States.Runtime`` when the value is serialised, or hands on a non-JSON value. AWS
gives a string like ``2026-11-28T10:12:15.192Z`` (``$$.State.EnteredTime`` already is one in moto).
"""

from __future__ import annotations

import datetime
from typing import Any

from perflab.local.compat import CompatPatch
from perflab.local.compat.sfn_support import import_attr, is_marked, mark, source_of

NAME = "sfn_context_start_time"
_TARGET = "moto.stepfunctions.parser.backend.execution_worker.ExecutionWorker._get_evaluation_environment"


def iso_utc(value: datetime.datetime) -> str:
    """``2026-11-28T10:12:15.192Z`` (milliseconds, UTC, ``Z``), the context object's format on AWS."""
    if value.tzinfo is None:
        value = value.replace(tzinfo=datetime.UTC)
    return value.astimezone(datetime.UTC).isoformat(timespec="milliseconds").replace("+00:00", "Z")


def _wrap(original: Any) -> Any:
    def _get_evaluation_environment(self: Any) -> Any:
        env = original(self)
        execution = env.states.context_object.context_object_data.get("Execution") or {}
        start = execution.get("StartTime")
        if isinstance(start, datetime.datetime):
            execution["StartTime"] = iso_utc(start)
        return env

    return mark(_get_evaluation_environment, NAME)


def _needed() -> bool:
    fn = import_attr(_TARGET)
    source = source_of(fn) if fn is not None else None
    return fn is not None and not is_marked(fn) and source is not None and "StartTime=" in source


def _apply() -> None:
    from moto.stepfunctions.parser.backend.execution_worker import ExecutionWorker

    current = ExecutionWorker.__dict__["_get_evaluation_environment"]
    if not is_marked(current):
        ExecutionWorker._get_evaluation_environment = _wrap(current)


PATCH = CompatPatch(
    name=NAME,
    gap="$$.Execution.StartTime was a datetime object (States.Runtime when passed on); AWS gives an "
    "ISO 8601 string",
    touches=(_TARGET, "moto.stepfunctions.parser.asl.eval.states.ExecutionData"),
    needed=_needed,
    apply=_apply,
)
