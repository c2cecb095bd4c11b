"""Step Functions: SDK timestamps in integration results break ``DescribeExecution``.

boto3 parses response timestamps into ``datetime`` objects, and moto's interpreter puts integration
responses into the state data as they are: ``ecs:runTask`` (``CreatedAt``, ``StartedAt``, ...),
``states:startExecution`` (``StartDate``), every ``aws-sdk:*`` call that returns a date. When such a
value reaches the execution's output, moto's ``DescribeExecution`` handler serialises the output with
plain ``json.dumps`` and answers HTTP 500 (``Object of type datetime is not JSON serializable``), so
the execution can no longer be inspected.

AWS hands timestamps to the state machine as JSON numbers (epoch milliseconds). This patch converts
every ``datetime`` in an integration response to epoch milliseconds where the interpreter normalises
responses, and, as a backstop, does the same to an execution's output when the execution ends.
"""

from __future__ import annotations

import datetime
import importlib
from typing import Any

from perflab.local.compat import CompatPatch
from perflab.local.compat.sfn_support import import_attr, is_marked, mark, source_of

NAME = "sfn_timestamps"
_SERVICE = (
    "moto.stepfunctions.parser.asl.component.state.exec.state_task.service."
    "state_task_service.StateTaskService"
)
_COMMUNICATION = "moto.stepfunctions.parser.backend.execution.BaseExecutionWorkerCommunication"
_DESCRIBE = "moto.stepfunctions.responses.StepFunctionResponse.describe_execution"


def epoch_millis(value: datetime.datetime | datetime.date) -> int:
    if not isinstance(value, datetime.datetime):
        value = datetime.datetime(value.year, value.month, value.day, tzinfo=datetime.UTC)
    if value.tzinfo is None:
        value = value.replace(tzinfo=datetime.UTC)
    return int(value.timestamp() * 1000)


def contains_datetime(value: Any) -> bool:
    if isinstance(value, datetime.date):
        return True
    if isinstance(value, dict):
        return any(contains_datetime(item) for item in value.values())
    if isinstance(value, list):
        return any(contains_datetime(item) for item in value)
    return False


def without_datetimes(value: Any) -> Any:
    """``value`` with every ``datetime``/``date`` replaced by epoch milliseconds (a new object)."""
    if isinstance(value, datetime.date):
        return epoch_millis(value)
    if isinstance(value, dict):
        return {key: without_datetimes(item) for key, item in value.items()}
    if isinstance(value, list):
        return [without_datetimes(item) for item in value]
    return value


def _convert_in_place(response: Any) -> None:
    if isinstance(response, dict) and contains_datetime(response):
        converted = without_datetimes(response)
        response.clear()
        response.update(converted)
    elif isinstance(response, list) and contains_datetime(response):
        response[:] = without_datetimes(response)


def _wrap_normalise_response(original: Any) -> Any:
    def _normalise_response(
        self: Any,
        response: Any,
        boto_service_name: str | None = None,
        service_action_name: str | None = None,
    ) -> None:
        original(
            self,
            response,
            boto_service_name=boto_service_name,
            service_action_name=service_action_name,
        )
        _convert_in_place(response)

    return mark(_normalise_response, NAME)


def _wrap_reflect(original: Any) -> Any:
    def _reflect_execution_status(self: Any) -> None:
        original(self)
        output = getattr(self.execution, "output", None)
        if contains_datetime(output):
            self.execution.output = without_datetimes(output)

    return mark(_reflect_execution_status, NAME)


def needed() -> bool:
    service = import_attr(_SERVICE)
    communication = import_attr(_COMMUNICATION)
    if service is None or communication is None or import_attr(_DESCRIBE) is None:
        return False
    if not callable(service.__dict__.get("_normalise_response")):
        return False
    reflect = communication.__dict__.get("_reflect_execution_status")
    if not callable(reflect) or is_marked(reflect):
        return False
    # The gap: the handler dumps a non-string output with the stdlib encoder, which knows no dates.
    # Read the module, not the method: other patches may wrap the handler.
    source = source_of(importlib.import_module(_DESCRIBE.rsplit(".", 2)[0])) or ""
    return "json.dumps(execution.output)" in source


def apply() -> None:
    service = import_attr(_SERVICE)
    communication = import_attr(_COMMUNICATION)
    if service is None or communication is None:
        return
    normalise = service.__dict__["_normalise_response"]
    # Another patch's marker is fine (sfn_service_normalisation); only our own means applied.
    if getattr(normalise, "__perflab_compat__", None) != NAME:
        service._normalise_response = _wrap_normalise_response(normalise)
    reflect = communication.__dict__["_reflect_execution_status"]
    if not is_marked(reflect):
        communication._reflect_execution_status = _wrap_reflect(reflect)


PATCH = CompatPatch(
    name=NAME,
    gap=(
        "SDK timestamps (datetime objects) in integration results reach the execution output and "
        "DescribeExecution answers HTTP 500 (json.dumps cannot encode datetime)"
    ),
    touches=(
        f"{_SERVICE}._normalise_response",
        f"{_COMMUNICATION}._reflect_execution_status",
        "moto.stepfunctions.parser.backend.execution.Execution.output",
        _DESCRIBE,
    ),
    needed=needed,
    apply=apply,
)
