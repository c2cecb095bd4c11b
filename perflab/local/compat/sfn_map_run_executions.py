"""Every Distributed Map item runs as a child execution that the API can list, describe and trace.

The gap: moto evaluates a Distributed Map's items inside the parent execution, sends their history
events to a throwaway event manager and records no executions for them, so
``ListExecutions(mapRunArn=...)`` fails with HTTP 500 (moto looks up a state machine ``None``) and
there is no per-item history to inspect. Its map run counters are also off: ``total`` grows as items
start, ``pending`` stays 0 and a failed item stays ``running`` in ``executionCounts``.

The fix, as on AWS:

- each item is a child execution named by a UUID, with ARN
  ``arn:aws:states:<region>:<account>:execution:<state-machine>/<map-run-label>:<uuid>`` and state
  machine ARN ``<parent state machine ARN>/<map-run-label>`` (the map run's ``stateMachineArn``);
  inside it ``$$.Execution`` and ``$$.StateMachine`` describe the child (``ItemSelector`` still sees
  the parent's context, as it is evaluated by the parent);
- the child has its own event history (``ExecutionStarted`` ... ``ExecutionSucceeded`` /
  ``ExecutionFailed`` / ``ExecutionAborted``) and status SUCCEEDED / FAILED / ABORTED;
- ``ListExecutions(mapRunArn=...)`` lists them (``statusFilter``, ``maxResults``/``nextToken``),
  ``DescribeExecution`` (with ``mapRunArn``) and ``GetExecutionHistory`` answer for them;
- ``DescribeMapRun`` counts items and executions as pending / running / succeeded / failed / aborted
  with ``total`` set when the run starts.

Children run on moto's map workers, so ``MaxConcurrency`` keeps bounding how many run at once, and a
child costs one event list, not an interpreter. Child executions do not appear in
``ListExecutions(stateMachineArn=<parent>)`` (they do not on AWS either) and cannot be stopped on
their own (``StopExecution`` on the parent aborts them). Children are kept as long as their parent.
Covers ``ItemProcessor`` and the legacy ``Iterator`` in distributed mode.
"""

from __future__ import annotations

import datetime
import inspect
import threading
import uuid
import weakref
from typing import Any

from perflab.local.compat import CompatPatch
from perflab.local.compat.sfn_map_support import bottom, layers, replace_method, wrap_method

NAME = "sfn_map_run_executions"

_MAP = "moto.stepfunctions.parser.asl.component.state.exec.state_map"
_WORKERS = (
    f"{_MAP}.iteration.itemprocessor.distributed_item_processor_worker.DistributedItemProcessorWorker",
    f"{_MAP}.iteration.iterator.distributed_iterator_worker.DistributedIteratorWorker",
)
_COMPONENT = f"{_MAP}.iteration.distributed_iteration_component.DistributedIterationComponent"
_BACKEND = "moto.stepfunctions.parser.models.StepFunctionsParserBackend"
_RESPONSE = "moto.stepfunctions.responses.StepFunctionResponse"

_LOCK = threading.Lock()
#: Child execution ARN → child, for DescribeExecution; children live as long as their map run.
_BY_ARN: weakref.WeakValueDictionary[str, ChildExecution] = weakref.WeakValueDictionary()
_CHILDREN = "perflab_child_executions"


def _import(path: str) -> Any:
    import importlib

    module, _, attr = path.rpartition(".")
    return getattr(importlib.import_module(module), attr)


def _to_json(value: Any) -> str:
    """JSON text as moto's interpreter writes it (dates as ISO strings, never an error)."""
    from moto.stepfunctions.parser.asl.utils.encoding import to_json_str

    text: str = to_json_str(value, separators=(",", ":"))
    return text


def _now() -> datetime.datetime:
    return datetime.datetime.now(tz=datetime.UTC)


class ChildExecution:
    """One Distributed Map item as a child execution; duck-types what moto's responses read."""

    def __init__(self, record: Any, index: int, role_arn: str | None) -> None:
        from moto.stepfunctions.parser.asl.eval.event.event_manager import (
            EventHistoryContext,
            EventManager,
        )

        self.name = str(uuid.uuid4())
        prefix, _, _ = str(record.map_run_arn).replace(":mapRun:", ":execution:", 1).rpartition(":")
        self.execution_arn = self.exec_arn = f"{prefix}:{self.name}"
        self.map_run_arn: str = record.map_run_arn
        self.state_machine_arn: str = record.map_state_machine_arn
        self.index = index
        self.role_arn = role_arn
        self.start_date = _now()
        self.stop_date: datetime.datetime | None = None
        self.status = "RUNNING"
        self.input: Any = None
        #: The output value (``output`` is its JSON text, as DescribeExecution returns it).
        self.result: Any = None
        self.output_details = {"included": True}
        self.error: str | None = None
        self.cause: str | None = None
        self.event_manager: Any = EventManager()
        self.event_history_context: Any = EventHistoryContext.of_program_start()

    @property
    def execution_input(self) -> str:
        return _to_json(self.input)

    @property
    def output(self) -> str | None:
        return _to_json(self.result) if self.status == "SUCCEEDED" else None

    @property
    def state_machine_name(self) -> str:
        return self.state_machine_arn.split(":stateMachine:", 1)[-1]

    def to_history_output(self) -> dict[str, Any]:
        return {"events": self.event_manager.get_event_history()}

    def list_item(self) -> dict[str, Any]:
        item: dict[str, Any] = {
            "executionArn": self.execution_arn,
            "stateMachineArn": self.state_machine_arn,
            "name": self.name,
            "status": self.status,
            "startDate": self.start_date,
            "mapRunArn": self.map_run_arn,
            "itemCount": 1,
        }
        if self.stop_date is not None:
            item["stopDate"] = self.stop_date
        return item


def children(record: Any) -> list[ChildExecution]:
    """The child executions of a map run record, in start order."""
    with _LOCK:
        found: list[ChildExecution] = list(getattr(record, _CHILDREN, ()))
    return found


def _register(record: Any, child: ChildExecution) -> None:
    with _LOCK:
        if not hasattr(record, _CHILDREN):
            setattr(record, _CHILDREN, [])
        getattr(record, _CHILDREN).append(child)
        _BY_ARN[child.execution_arn] = child


def find_child(execution_arn: str) -> ChildExecution | None:
    with _LOCK:
        return _BY_ARN.get(execution_arn)


# --- the map run ---------------------------------------------------------------------------------


def _make_map_run(inner: Any) -> Any:
    def _map_run(self: Any, env: Any, eval_input: Any) -> None:
        # Item counts as AWS reports them: every item is known (pending) when the run starts.
        record = eval_input.map_run_record
        items = env.stack[-1] if env.stack else []
        if isinstance(items, list):
            record.item_counter.total.count(len(items))
            record.item_counter.pending.count(len(items))
        with _LOCK:
            if not hasattr(record, _CHILDREN):
                setattr(record, _CHILDREN, [])
        inner(self, env, eval_input)

    return _map_run


def _outcome(env: Any, program_state: Any) -> tuple[str, Any, Any]:
    """``(status, terminal event type, event details)`` for a child whose program ended."""
    from moto.stepfunctions.parser.api import (
        ExecutionAbortedEventDetails,
        ExecutionFailedEventDetails,
        ExecutionSucceededEventDetails,
        ExecutionTimedOutEventDetails,
        HistoryEventExecutionDataDetails,
        HistoryEventType,
    )
    from moto.stepfunctions.parser.asl.eval.event.event_detail import EventDetails
    from moto.stepfunctions.parser.asl.eval.program_state import (
        ProgramEnded,
        ProgramError,
        ProgramStopped,
        ProgramTimedOut,
    )
    from moto.stepfunctions.parser.asl.utils.encoding import to_json_str
    from moto.utilities.collections import select_from_typed_dict

    if isinstance(program_state, ProgramEnded):
        output = env.states.get_input()
        details = ExecutionSucceededEventDetails(
            output=to_json_str(output, separators=(",", ":")),
            outputDetails=HistoryEventExecutionDataDetails(truncated=False),
        )
        return (
            "SUCCEEDED",
            HistoryEventType.ExecutionSucceeded,
            EventDetails(executionSucceededEventDetails=details),
        )
    if isinstance(program_state, ProgramStopped):
        aborted = ExecutionAbortedEventDetails(error=program_state.error, cause=program_state.cause)
        return (
            "ABORTED",
            HistoryEventType.ExecutionAborted,
            EventDetails(executionAbortedEventDetails=aborted),
        )
    if isinstance(program_state, ProgramTimedOut):
        return (
            "TIMED_OUT",
            HistoryEventType.ExecutionTimedOut,
            EventDetails(executionTimedOutEventDetails=ExecutionTimedOutEventDetails()),
        )
    error = program_state.error if isinstance(program_state, ProgramError) else None
    failed = select_from_typed_dict(typed_dict=ExecutionFailedEventDetails, obj=error or {})
    return "FAILED", HistoryEventType.ExecutionFailed, EventDetails(executionFailedEventDetails=failed)


def _failure_from_exception(ex: Exception) -> tuple[str, Any, Any]:
    from moto.stepfunctions.parser.api import ExecutionFailedEventDetails, HistoryEventType
    from moto.stepfunctions.parser.asl.component.common.error_name.failure_event import (
        FailureEventException,
    )
    from moto.stepfunctions.parser.asl.eval.event.event_detail import EventDetails

    details = ExecutionFailedEventDetails(error="States.Runtime", cause=f"{type(ex).__name__}({ex})")
    if isinstance(ex, FailureEventException):
        pair = ex.extract_error_cause_pair()
        if pair is not None:
            error, cause = pair
            details = ExecutionFailedEventDetails()
            if error:
                details["error"] = error
            if cause:
                details["cause"] = cause
    return "FAILED", HistoryEventType.ExecutionFailed, EventDetails(executionFailedEventDetails=details)


def _become_child(env: Any, child: ChildExecution) -> None:
    """Point the job frame's history and context object at the child execution."""
    data = env.states.context_object.context_object_data
    parent_execution = dict(data.get("Execution") or {})
    start_time: Any = child.start_date
    if isinstance(parent_execution.get("StartTime"), str):
        start_time = child.start_date.isoformat(timespec="milliseconds").replace("+00:00", "Z")
    data["Execution"] = {
        **parent_execution,
        "Id": child.execution_arn,
        "Name": child.name,
        "Input": child.input,
        "StartTime": start_time,
    }
    data["StateMachine"] = {
        **dict(data.get("StateMachine") or {}),
        "Id": child.state_machine_arn,
        "Name": child.state_machine_name,
    }
    env.event_manager = child.event_manager
    env.event_history_context = child.event_history_context


def _add_started_event(child: ChildExecution) -> None:
    from moto.stepfunctions.parser.api import (
        ExecutionStartedEventDetails,
        HistoryEventExecutionDataDetails,
        HistoryEventType,
    )
    from moto.stepfunctions.parser.asl.eval.event.event_detail import EventDetails
    from moto.stepfunctions.parser.asl.utils.encoding import to_json_str

    details = ExecutionStartedEventDetails(
        input=to_json_str(child.input),
        inputDetails=HistoryEventExecutionDataDetails(truncated=False),
    )
    if child.role_arn:
        details["roleArn"] = child.role_arn
    child.event_manager.add_event(
        context=child.event_history_context,
        event_type=HistoryEventType.ExecutionStarted,
        event_details=EventDetails(executionStartedEventDetails=details),
        update_source_event_id=False,
    )


_COUNTER_BY_STATUS = {
    "SUCCEEDED": "succeeded",
    "FAILED": "failed",
    "TIMED_OUT": "timed_out",
    "ABORTED": "aborted",
}


def _eval_job(self: Any, env: Any, job: Any) -> None:
    """Run one item as a child execution (replaces moto's distributed ``_eval_job``)."""
    from moto.stepfunctions.parser.asl.eval.states import ItemData, MapData

    record = self._map_run_record
    data = env.states.context_object.context_object_data
    child = ChildExecution(record, job.job_index, (data.get("Execution") or {}).get("RoleArn"))
    child.input = job.job_input
    _register(record, child)
    record.item_counter.pending.offset(-1)
    record.item_counter.running.count()
    record.execution_counter.total.count()
    record.execution_counter.running.count()

    started = False
    try:
        # The parent evaluates ItemSelector / Parameters, with $$.Map.Item in its context.
        data["Map"] = MapData(Item=ItemData(Index=job.job_index, Value=job.job_input))
        env.states.reset(input_value=job.job_input)
        env.stack.append(env.states.get_input())
        self._eval_input(env_frame=env)
        child.input = env.states.get_input()

        _become_child(env, child)
        _add_started_event(child)
        started = True
        job.job_program.eval(env)
        status, event_type, details = _outcome(env, env.program_state())
    except Exception as ex:
        if not started:
            _add_started_event(child)
        status, event_type, details = _failure_from_exception(ex)

    if status == "SUCCEEDED":
        child.result = env.states.get_input()
    else:
        failed: dict[str, Any] = next(iter(details.values()), {}) or {}
        child.error = failed.get("error")
        child.cause = failed.get("cause")
    child.event_manager.add_event(
        context=child.event_history_context,
        event_type=event_type,
        event_details=details,
        update_source_event_id=False,
    )
    child.stop_date = _now()
    child.status = status

    counter = _COUNTER_BY_STATUS[status]
    for progress in (record.item_counter, record.execution_counter):
        progress.running.offset(-1)
        getattr(progress, counter).count()
        if status == "SUCCEEDED":
            progress.results_written.count()
    job.job_output = child.result
    job.perflab_failed = status != "SUCCEEDED"


# --- the API -------------------------------------------------------------------------------------


def _find_map_run(backend: Any, map_run_arn: str) -> Any:
    for execution in backend._get_executions():
        env = getattr(getattr(execution, "exec_worker", None), "env", None)
        if env is None:
            continue
        record = env.map_run_record_pool_manager.get(map_run_arn)
        if record is not None:
            return record
    return None


def _list_executions(inner: Any) -> Any:
    def list_executions(self: Any) -> Any:
        map_run_arn = self._get_param("mapRunArn")
        if not map_run_arn:
            return inner(self)
        from moto.core.responses import ActionResult
        from moto.stepfunctions.exceptions import ResourceNotFound

        record = _find_map_run(self.stepfunction_backend, map_run_arn)
        if record is None:
            raise ResourceNotFound(map_run_arn)
        status_filter = self._get_param("statusFilter")
        found = [c for c in children(record) if not status_filter or c.status == status_filter]
        found.sort(key=lambda c: c.start_date, reverse=True)
        start = int(self._get_param("nextToken") or 0)
        size = self._get_int_param("maxResults") or 100
        page = found[start : start + size]
        response: dict[str, Any] = {"executions": [c.list_item() for c in page]}
        if start + size < len(found):
            response["nextToken"] = str(start + size)
        return ActionResult(response)

    return list_executions


def _describe_execution_response(inner: Any) -> Any:
    def describe_execution(self: Any) -> Any:
        result = inner(self)
        child = find_child(self._get_param("executionArn") or "")
        if child is not None and isinstance(getattr(result, "result", None), dict):
            result.result["mapRunArn"] = child.map_run_arn
        return result

    return describe_execution


def _describe_execution_backend(inner: Any) -> Any:
    def describe_execution(self: Any, execution_arn: str) -> Any:
        child = find_child(execution_arn)
        if child is not None:
            return child
        return inner(self, execution_arn)

    return describe_execution


def needed() -> bool:
    try:
        response = _import(_RESPONSE)
        backend = _import(_BACKEND)
        component = _import(_COMPONENT)
        workers = [_import(path) for path in _WORKERS]
    except (ImportError, AttributeError):
        return False
    if not all(hasattr(w, "_eval_job") for w in workers) or not hasattr(component, "_map_run"):
        return False
    if not hasattr(backend, "_get_executions") or NAME in layers(response, "list_executions"):
        return False
    # moto still lists executions by state machine only.
    return "mapRunArn" not in inspect.getsource(bottom(response, "list_executions"))


def apply() -> None:
    for path in _WORKERS:
        replace_method(_import(path), "_eval_job", NAME, _eval_job)
    wrap_method(_import(_COMPONENT), "_map_run", NAME, _make_map_run)
    wrap_method(_import(_BACKEND), "describe_execution", NAME, _describe_execution_backend)
    response = _import(_RESPONSE)
    wrap_method(response, "list_executions", NAME, _list_executions)
    wrap_method(response, "describe_execution", NAME, _describe_execution_response)


PATCH = CompatPatch(
    name=NAME,
    gap="a Distributed Map run has no child executions: ListExecutions(mapRunArn=...) answers HTTP "
    "500 and per-item history cannot be read",
    touches=(
        *(f"{path}._eval_job" for path in _WORKERS),
        f"{_MAP}.iteration.itemprocessor.inline_item_processor_worker.InlineItemProcessorWorker._eval_input",
        f"{_COMPONENT}._map_run",
        f"{_MAP}.iteration.itemprocessor.map_run_record.MapRunRecord",
        f"{_MAP}.iteration.job.Job",
        f"{_BACKEND}.describe_execution",
        f"{_BACKEND}.get_execution_history",
        f"{_BACKEND}._get_executions",
        f"{_RESPONSE}.list_executions",
        f"{_RESPONSE}.describe_execution",
        "moto.stepfunctions.parser.asl.eval.environment.Environment",
        "moto.stepfunctions.parser.asl.eval.event.event_manager.EventManager",
        "moto.stepfunctions.parser.asl.eval.program_state",
    ),
    needed=needed,
    apply=apply,
)
