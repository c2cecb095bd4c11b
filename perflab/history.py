"""Step Functions execution histories: reading them, and counting the state transitions AWS bills.

Plain AWS APIs only (``GetExecutionHistory``, ``ListMapRuns``, ``ListExecutions(mapRunArn=...)``), each
paginated, so the count is the same against the local endpoint and against AWS.

**The counting rule** (Standard workflows), from AWS's own wording:

* "Step Functions counts a state transition each time a step of your workflow is executed … including
  retries"; "each retry will be charged as an additional state transition"
  (https://aws.amazon.com/step-functions/pricing/). In a history a step executed is one
  ``…StateEntered`` event (``TaskStateEntered``, ``ChoiceStateEntered``, ``PassStateEntered``,
  ``MapStateEntered``, ``SucceedStateEntered``, ``FailStateEntered``, …): one transition each.
* A retry stays inside its state (no new ``…StateEntered``): the Task is scheduled again. Every attempt
  is one ``TaskScheduled`` (``LambdaFunctionScheduled`` / ``ActivityScheduled`` for the legacy
  resource forms), so retries = attempts - Task states entered. (A Task entered that fails before
  its first attempt, e.g. on a bad ``Parameters`` path, has no attempt and would hide one retry of
  another Task in the same history; such a state ends the execution or goes to its Catch.)
* Distributed Map: "you are charged one state transition for each child workflow execution the
  Distributed Map state starts" (Transitions in Distributed Map states,
  https://docs.aws.amazon.com/step-functions/latest/dg/concepts-transitions.html), and each child's
  own states and retries count as above, from the child's history. The Map state itself is one
  ``MapStateEntered`` in the parent. An Inline Map's iterations are in the parent's history and are
  not charged per iteration, only per state they enter.
* Redrive: "Redriving an execution counts as a state transition", and every state it re-runs counts
  again (same page): one per ``ExecutionRedriven`` event, re-run states appear as new
  ``…StateEntered`` events.

Not counted: ``ExecutionStarted`` / ``ExecutionSucceeded`` and the ``…StateExited``, ``MapRun…``,
``TaskStarted``/``TaskSucceeded`` events: they report on steps, they are not steps. Children of a
Distributed Map with ``ExecutionType: EXPRESS`` are billed as Express executions, not transitions;
``download_fanout``'s children are STANDARD, and this module counts them as such.

For ``download_fanout`` on the success path this gives 8 parent states + 3 per invocation (child
started, Route, the download Task), the same as ``perflab.report.cost.estimate_transitions``.
"""

from __future__ import annotations

from collections.abc import Iterable, Iterator, Mapping
from dataclasses import dataclass
from typing import Any

#: One event per attempt of a Task (the first attempt and each retry).
ATTEMPT_EVENTS = frozenset({"TaskScheduled", "LambdaFunctionScheduled", "ActivityScheduled"})
#: One event per redrive of the execution.
REDRIVE_EVENTS = frozenset({"ExecutionRedriven"})


def history(sfn: Any, execution_arn: str, include_data: bool = True) -> Iterator[dict[str, Any]]:
    """Every event of an execution's history, oldest first (``GetExecutionHistory``, paginated)."""
    kwargs: dict[str, Any] = {"executionArn": execution_arn, "maxResults": 1000}
    if not include_data:
        kwargs["includeExecutionData"] = False
    while True:
        page = sfn.get_execution_history(**kwargs)
        yield from page["events"]
        if not page.get("nextToken"):
            return
        kwargs["nextToken"] = page["nextToken"]


def map_run_arns(sfn: Any, execution_arn: str) -> Iterator[str]:
    """The ARNs of the execution's Distributed Map runs (``ListMapRuns``, paginated)."""
    kwargs: dict[str, Any] = {"executionArn": execution_arn, "maxResults": 1000}
    while True:
        page = sfn.list_map_runs(**kwargs)
        for run in page.get("mapRuns", []):
            yield str(run["mapRunArn"])
        if not page.get("nextToken"):
            return
        kwargs["nextToken"] = page["nextToken"]


def child_execution_arns(sfn: Any, map_run_arn: str) -> Iterator[str]:
    """The child executions a map run started (``ListExecutions(mapRunArn=...)``, paginated)."""
    kwargs: dict[str, Any] = {"mapRunArn": map_run_arn, "maxResults": 1000}
    while True:
        page = sfn.list_executions(**kwargs)
        for execution in page.get("executions", []):
            yield str(execution["executionArn"])
        if not page.get("nextToken"):
            return
        kwargs["nextToken"] = page["nextToken"]


@dataclass(frozen=True, slots=True)
class TransitionCount:
    """Billed transitions found in one or more execution histories (module docstring)."""

    states_entered: int = 0
    retries: int = 0
    redrives: int = 0

    @property
    def total(self) -> int:
        return self.states_entered + self.retries + self.redrives

    def __add__(self, other: TransitionCount) -> TransitionCount:
        return TransitionCount(
            self.states_entered + other.states_entered,
            self.retries + other.retries,
            self.redrives + other.redrives,
        )


def count_transitions(events: Iterable[Mapping[str, Any]]) -> TransitionCount:
    """The billed transitions of ONE execution's history (its own events; children not included)."""
    entered = tasks_entered = attempts = redrives = 0
    for event in events:
        kind = str(event.get("type", ""))
        if kind.endswith("StateEntered"):
            entered += 1
            if kind == "TaskStateEntered":
                tasks_entered += 1
        elif kind in ATTEMPT_EVENTS:
            attempts += 1
        elif kind in REDRIVE_EVENTS:
            redrives += 1
    return TransitionCount(
        states_entered=entered, retries=max(0, attempts - tasks_entered), redrives=redrives
    )


@dataclass(frozen=True, slots=True)
class RunTransitions:
    """A run's billed transitions: the parent execution's, plus its Distributed Map children's."""

    parent: TransitionCount
    children: TransitionCount
    child_executions: int

    @property
    def total(self) -> int:
        """Parent + one per child execution started + the children's own."""
        return self.parent.total + self.child_executions + self.children.total

    def to_json(self) -> dict[str, int]:
        return {
            "total": self.total,
            "parent_states": self.parent.states_entered,
            "parent_retries": self.parent.retries,
            "child_executions": self.child_executions,
            "child_states": self.children.states_entered,
            "child_retries": self.children.retries,
            "redrives": self.parent.redrives + self.children.redrives,
        }


def count_run_transitions(sfn: Any, execution_arn: str) -> RunTransitions:
    """Count a finished execution's billed transitions from its history and its map runs' children.

    Call it after the execution has ended: a running one is counted as far as it has got.
    """
    parent = count_transitions(history(sfn, execution_arn, include_data=False))
    children = TransitionCount()
    started = 0
    for map_run in map_run_arns(sfn, execution_arn):
        for child in child_execution_arns(sfn, map_run):
            started += 1
            children = children + count_transitions(history(sfn, child, include_data=False))
    return RunTransitions(parent=parent, children=children, child_executions=started)
