"""Distributed Map honours ``ToleratedFailurePercentage`` / ``ToleratedFailureCount``.

The gap: moto parses the tolerance fields and reports them in ``DescribeMapRun`` but never applies
them. A failed item becomes ``null`` in the Map's output and the Map SUCCEEDS, whatever the
tolerance. Its grammar also accepts only a decimal percentage: ``"ToleratedFailurePercentage": 100``
is a syntax error, only ``100.0`` parses.

The fix, following AWS's documented behaviour:

- a failed item is one whose child execution did not succeed (failed, timed out, aborted);
- the run fails with ``States.ExceedToleratedFailureThreshold`` (a ``MapRunFailed`` event, then the
  Map state fails and its ``Catch``/``Retry`` see that error) when the failures exceed the
  tolerance: more than ``ToleratedFailureCount`` items, or more than ``ToleratedFailurePercentage``
  percent of all items. When both are declared, exceeding either fails the run; when neither is,
  the tolerance is zero (any failure fails the run). ``UpdateMapRun`` changes apply to the run in
  progress. The ``...Path`` forms work the same way;
- once the threshold is exceeded no further items are started; the items already running finish
  (AWS: "may continue to run child workflows ... before the Map Run fails");
- when the run stays within the tolerance it succeeds and its output holds the outputs of the
  successful items only, in item order; the failed items appear in the map run's ``failed`` counts
  (and, with ``sfn_map_run_executions``, as FAILED child executions);
- an integer ``ToleratedFailurePercentage`` parses (a lexer token rule reads the integer as the
  number the grammar expects). The rule applies to the key wherever it appears, so an integer under
  that key inside a ``Parameters`` payload also becomes a float (``100`` → ``100.0``).
"""

from __future__ import annotations

import inspect
import threading
from typing import Any

from perflab.local.compat import CompatPatch
from perflab.local.compat.sfn_map_support import (
    asl_syntax_errors,
    install_token_rule,
    token_rule_installed,
    token_types,
    wrap_method,
)

NAME = "sfn_map_tolerated_failure"

_MAP = "moto.stepfunctions.parser.asl.component.state.exec.state_map"
_WORKERS = (
    f"{_MAP}.iteration.itemprocessor.distributed_item_processor_worker.DistributedItemProcessorWorker",
    f"{_MAP}.iteration.iterator.distributed_iterator_worker.DistributedIteratorWorker",
)
_COMPONENT = f"{_MAP}.iteration.distributed_iteration_component.DistributedIterationComponent"
_STATE_MAP = f"{_MAP}.state_map.StateMap"

_DECLARED = "perflab_tolerance_declared"
_POLICY = "perflab_tolerance"

_PROBE = """{
  "StartAt": "M",
  "States": {"M": {"Type": "Map", "ToleratedFailurePercentage": 100,
    "ItemProcessor": {"ProcessorConfig": {"Mode": "DISTRIBUTED", "ExecutionType": "STANDARD"},
      "StartAt": "P", "States": {"P": {"Type": "Pass", "End": true}}},
    "End": true}}
}"""


def _import(path: str) -> Any:
    import importlib

    module, _, attr = path.rpartition(".")
    return getattr(importlib.import_module(module), attr)


class FailedItem:
    """Stands for a failed item's output until the run's output is assembled.

    moto deep-copies closed jobs; a failed marker must survive that.
    """

    def __deepcopy__(self, memo: dict[int, Any]) -> FailedItem:
        return self


FAILED = FailedItem()


class Tolerance:
    """The failure budget of one map run, checked as items finish."""

    def __init__(self, record: Any, total: int, declared: tuple[bool, bool]) -> None:
        self._lock = threading.Lock()
        self.record = record
        self.total = total
        self.count_declared, self.percentage_declared = declared
        self.failed = 0

    def add_failure(self) -> bool:
        """Count one failed item; True when the run is now over its tolerance."""
        with self._lock:
            self.failed += 1
        return self.exceeded()

    def exceeded(self) -> bool:
        count = int(self.record.tolerated_failure_count or 0)
        percentage = float(self.record.tolerated_failure_percentage or 0.0)
        by_count = self.count_declared or count > 0
        by_percentage = self.percentage_declared or percentage > 0
        if not by_count and not by_percentage:
            return self.failed > 0
        over_count = by_count and self.failed > count
        over_percentage = by_percentage and self.failed * 100.0 > percentage * self.total
        return over_count or over_percentage

    def cause(self) -> str:
        return (
            "The specified tolerated failure threshold was exceeded: "
            f"{self.failed} of {self.total} items failed "
            f"(ToleratedFailureCount {self.record.tolerated_failure_count}, "
            f"ToleratedFailurePercentage {self.record.tolerated_failure_percentage})"
        )


def _stop_dispatch(job_pool: Any) -> None:
    """Start no further items of this run; the running ones finish and close as usual."""
    with job_pool._mutex:
        dropped = len(job_pool._open_jobs)
        job_pool._open_jobs.clear()
        job_pool._jobs_number -= dropped
        job_pool._notify_on_termination()


def _job_failed(env: Any, job: Any) -> bool:
    marked = getattr(job, "perflab_failed", None)
    if marked is not None:
        return bool(marked)
    from moto.stepfunctions.parser.asl.eval.program_state import ProgramEnded

    return not isinstance(env.program_state(), ProgramEnded)


def _make_eval_job(inner: Any) -> Any:
    def _eval_job(self: Any, env: Any, job: Any) -> None:
        inner(self, env, job)
        tolerance: Tolerance | None = getattr(self._map_run_record, _POLICY, None)
        if tolerance is None or not _job_failed(env, job):
            return
        job.job_output = FAILED
        if tolerance.add_failure():
            _stop_dispatch(self._job_pool)

    return _eval_job


def _threshold_exceeded(env: Any, tolerance: Tolerance) -> Exception:
    from moto.stepfunctions.parser.api import ExecutionFailedEventDetails, HistoryEventType
    from moto.stepfunctions.parser.asl.component.common.error_name.failure_event import (
        FailureEvent,
        FailureEventException,
    )
    from moto.stepfunctions.parser.asl.component.common.error_name.states_error_name import (
        StatesErrorName,
    )
    from moto.stepfunctions.parser.asl.component.common.error_name.states_error_name_type import (
        StatesErrorNameType,
    )
    from moto.stepfunctions.parser.asl.eval.event.event_detail import EventDetails

    typ = StatesErrorNameType.StatesExceedToleratedFailureThreshold
    exception: Exception = FailureEventException(
        failure_event=FailureEvent(
            env=env,
            error_name=StatesErrorName(typ=typ),
            event_type=HistoryEventType.MapRunFailed,
            event_details=EventDetails(
                executionFailedEventDetails=ExecutionFailedEventDetails(
                    error=typ.to_name(), cause=tolerance.cause()
                )
            ),
        )
    )
    return exception


def _make_map_run(inner: Any) -> Any:
    def _map_run(self: Any, env: Any, eval_input: Any) -> None:
        record = eval_input.map_run_record
        items = env.stack[-1] if env.stack else []
        total = len(items) if isinstance(items, list) else 0
        tolerance = Tolerance(record, total, getattr(self, _DECLARED, (True, True)))
        setattr(record, _POLICY, tolerance)
        inner(self, env, eval_input)
        outputs = env.stack.pop()
        if tolerance.exceeded():
            raise _threshold_exceeded(env, tolerance)
        env.stack.append([output for output in outputs if not isinstance(output, FailedItem)])

    return _map_run


def _make_from_state_props(inner: Any) -> Any:
    def from_state_props(self: Any, state_props: Any) -> None:
        inner(self, state_props)
        from moto.stepfunctions.parser.asl.component.state.exec.state_map.tolerated_failure import (
            ToleratedFailureCountDecl,
            ToleratedFailurePercentageDecl,
        )

        declared = (
            state_props.get(ToleratedFailureCountDecl) is not None,
            state_props.get(ToleratedFailurePercentageDecl) is not None,
        )
        component = getattr(self, "iteration_component", None)
        if isinstance(component, _import(_COMPONENT)):
            setattr(component, _DECLARED, declared)

    return from_state_props


def _integer_percentage_rule() -> Any:
    from moto.stepfunctions.parser.asl.antlr.runtime.ASLLexer import ASLLexer

    def rule(state: dict[str, Any], recent: list[Any], token: Any) -> None:
        if token.type == ASLLexer.INT and token_types(recent, 2) == [
            ASLLexer.TOLERATEDFAILUREPERCENTAGE,
            ASLLexer.COLON,
        ]:
            token.type = ASLLexer.NUMBER

    return rule


def _semantic_gap() -> bool:
    try:
        component = _import(_COMPONENT)
        workers = [_import(path) for path in _WORKERS]
        state_map = _import(_STATE_MAP)
        _import(f"{_MAP}.iteration.job.JobPool")
    except (ImportError, AttributeError):
        return False
    if not hasattr(component, "_map_run") or not hasattr(state_map, "from_state_props"):
        return False
    if not all(hasattr(worker, "_eval_job") for worker in workers):
        return False
    from perflab.local.compat.sfn_map_support import bottom, layers

    if NAME in layers(component, "_map_run"):
        return False
    # moto still ignores the tolerance: its map run never looks at it.
    return "tolerated" not in inspect.getsource(bottom(component, "_map_run")).lower()


def _parse_gap() -> bool:
    try:
        from moto.stepfunctions.parser.asl.antlr.runtime.ASLLexer import ASLLexer

        ASLLexer.TOLERATEDFAILUREPERCENTAGE, ASLLexer.INT, ASLLexer.NUMBER  # noqa: B018
    except (ImportError, AttributeError):
        return False
    return not token_rule_installed(NAME) and bool(asl_syntax_errors(_PROBE))


def needed() -> bool:
    return _semantic_gap() or _parse_gap()


def apply() -> None:
    if _parse_gap():
        install_token_rule(NAME, _integer_percentage_rule())
    if _semantic_gap():
        wrap_method(_import(_STATE_MAP), "from_state_props", NAME, _make_from_state_props)
        for path in _WORKERS:
            wrap_method(_import(path), "_eval_job", NAME, _make_eval_job)
        wrap_method(_import(_COMPONENT), "_map_run", NAME, _make_map_run)


PATCH = CompatPatch(
    name=NAME,
    gap="Distributed Map ignores ToleratedFailurePercentage/Count (failed items become null, the map "
    "succeeds); an integer ToleratedFailurePercentage does not parse",
    touches=(
        "moto.stepfunctions.parser.asl.antlr.runtime.ASLLexer.ASLLexer.nextToken",
        f"{_STATE_MAP}.from_state_props",
        *(f"{path}._eval_job" for path in _WORKERS),
        f"{_COMPONENT}._map_run",
        f"{_MAP}.iteration.job.JobPool._mutex",
        f"{_MAP}.iteration.job.JobPool._open_jobs",
        f"{_MAP}.iteration.job.JobPool._jobs_number",
        f"{_MAP}.iteration.job.JobPool._notify_on_termination",
        f"{_MAP}.iteration.itemprocessor.map_run_record.MapRunRecord.tolerated_failure_count",
        f"{_MAP}.iteration.itemprocessor.map_run_record.MapRunRecord.tolerated_failure_percentage",
        f"{_MAP}.tolerated_failure.ToleratedFailureCountDecl",
        f"{_MAP}.tolerated_failure.ToleratedFailurePercentageDecl",
        "moto.stepfunctions.parser.asl.eval.program_state.ProgramEnded",
    ),
    needed=needed,
    apply=apply,
)
