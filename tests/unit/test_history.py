"""Billed Step Functions transitions counted from hand-made execution histories (perflab.history).

The histories follow AWS's event shapes (GetExecutionHistory) for ``download_fanout``: the parent with
its eight success-path states, children of a Distributed Map with a retried and a caught Task.
"""

from __future__ import annotations

from collections.abc import Sequence
from typing import Any

import pytest

from perflab.history import (
    RunTransitions,
    TransitionCount,
    count_run_transitions,
    count_transitions,
    history,
)
from perflab.report.cost import estimate_transitions


def _events(*types: str) -> list[dict[str, Any]]:
    return [{"id": i, "type": t} for i, t in enumerate(types, 1)]


def _state(kind: str, *inner: str) -> list[str]:
    return [f"{kind}StateEntered", *inner, f"{kind}StateExited"]


def _parent(aggregate_attempts: int) -> list[dict[str, Any]]:
    """Validate, HasMaxConcurrency (Choice), DefaultMaxConcurrency, PlanFanout, Indexes (Pass), Fanout
    (Map), Aggregate (Task, failing with Lambda.ServiceException before its last attempt), Done."""
    attempts = ["TaskScheduled", "TaskStarted", "TaskFailed"] * (aggregate_attempts - 1)
    return _events(
        "ExecutionStarted",
        *_state("Choice"),
        *_state("Choice"),
        *_state("Pass"),
        *_state("Pass"),
        *_state("Pass"),
        *_state("Map", "MapStateStarted", "MapRunStarted", "MapRunSucceeded", "MapStateSucceeded"),
        *_state("Task", *attempts, "TaskScheduled", "TaskStarted", "TaskSucceeded"),
        *_state("Succeed"),
        "ExecutionSucceeded",
    )


#: The parent with the Aggregate step retried once.
PARENT = _parent(aggregate_attempts=2)
#: Route (Choice) + InvokeDownload (Task), one attempt.
CHILD_OK = _events(
    "ExecutionStarted",
    *_state("Choice"),
    *_state("Task", "TaskScheduled", "TaskStarted", "TaskSucceeded"),
    "ExecutionSucceeded",
)
#: Route + InvokeDownload failing three times (two retries), caught: RecordInvocationFailure
#: (dynamodb:putItem, conditional check failed, caught) + AlreadyRecorded (Succeed).
CHILD_FAILED = _events(
    "ExecutionStarted",
    *_state("Choice"),
    "TaskStateEntered",
    *("TaskScheduled", "TaskStarted", "TaskFailed") * 3,
    "TaskStateExited",
    *_state("Task", "TaskScheduled", "TaskStarted", "TaskFailed"),
    *_state("Succeed"),
    "ExecutionSucceeded",
)


def test_parent_counts_states_entered_and_retries() -> None:
    count = count_transitions(PARENT)
    assert count == TransitionCount(states_entered=8, retries=1, redrives=0)
    assert count.total == 9


def test_child_with_retries_and_a_caught_failure() -> None:
    assert count_transitions(CHILD_OK) == TransitionCount(states_entered=2, retries=0)
    failed = count_transitions(CHILD_FAILED)
    assert failed == TransitionCount(states_entered=4, retries=2)
    assert failed.total == 6


def test_reporting_events_are_not_transitions() -> None:
    """Execution start/end, exits, MapRun and task progress events report on steps; they are not steps."""
    noise = _events(
        "ExecutionStarted",
        "MapRunStarted",
        "TaskStarted",
        "TaskSubmitted",
        "TaskSucceeded",
        "TaskStateExited",
        "ExecutionSucceeded",
    )
    assert count_transitions(noise).total == 0


def test_legacy_lambda_and_activity_attempts_count_as_retries() -> None:
    events = _events(
        *_state("Task", "LambdaFunctionScheduled", "LambdaFunctionFailed", "LambdaFunctionScheduled"),
        *_state("Task", "ActivityScheduled", "ActivityTimedOut", "ActivityScheduled", "ActivityScheduled"),
    )
    assert count_transitions(events) == TransitionCount(states_entered=2, retries=3)


def test_a_redrive_is_one_transition_and_rerun_states_count_again() -> None:
    events = _events(
        "ExecutionStarted",
        *_state("Task", "TaskScheduled", "TaskFailed"),
        "ExecutionFailed",
        "ExecutionRedriven",
        *_state("Task", "TaskScheduled", "TaskSucceeded"),
        "ExecutionSucceeded",
    )
    assert count_transitions(events) == TransitionCount(states_entered=2, retries=0, redrives=1)


class FakeSfn:
    """GetExecutionHistory / ListMapRuns / ListExecutions(mapRunArn) over fixed histories, ``page``
    items per answer with a nextToken, recording every call."""

    def __init__(
        self,
        histories: dict[str, Sequence[dict[str, Any]]],
        map_runs: dict[str, list[str]],
        children: dict[str, list[str]],
        page: int,
    ) -> None:
        self.histories, self.map_runs, self.children, self.page = histories, map_runs, children, page
        self.calls: list[tuple[str, dict[str, Any]]] = []

    def _page(self, items: Sequence[Any], kwargs: dict[str, Any]) -> dict[str, Any]:
        start = int(kwargs.get("nextToken") or 0)
        more = {"nextToken": str(start + self.page)} if start + self.page < len(items) else {}
        return {"items": list(items[start : start + self.page]), **more}

    def get_execution_history(self, **kwargs: Any) -> dict[str, Any]:
        self.calls.append(("get_execution_history", kwargs))
        page = self._page(self.histories[kwargs["executionArn"]], kwargs)
        return {"events": page.pop("items"), **page}

    def list_map_runs(self, **kwargs: Any) -> dict[str, Any]:
        self.calls.append(("list_map_runs", kwargs))
        page = self._page([{"mapRunArn": a} for a in self.map_runs.get(kwargs["executionArn"], [])], kwargs)
        return {"mapRuns": page.pop("items"), **page}

    def list_executions(self, **kwargs: Any) -> dict[str, Any]:
        self.calls.append(("list_executions", kwargs))
        page = self._page([{"executionArn": a} for a in self.children[kwargs["mapRunArn"]]], kwargs)
        return {"executions": page.pop("items"), **page}


def _fake(children: dict[str, Sequence[dict[str, Any]]], page: int = 2) -> FakeSfn:
    """A parent execution with one map run ``maprun:Downloads`` whose children are ``children``."""
    histories: dict[str, Sequence[dict[str, Any]]] = {"parent": PARENT, **children}
    return FakeSfn(histories, {"parent": ["maprun:Downloads"]}, {"maprun:Downloads": list(children)}, page)


def test_a_run_adds_one_per_child_started_and_the_childrens_own() -> None:
    children = {"c0": CHILD_OK, "c1": CHILD_OK, "c2": CHILD_FAILED}
    fake = _fake(children)
    counted = count_run_transitions(fake, "parent")
    assert counted == RunTransitions(
        parent=TransitionCount(8, 1), children=TransitionCount(2 + 2 + 4, 2), child_executions=3
    )
    assert counted.total == 9 + 3 + (8 + 2)
    assert counted.to_json() == {
        "total": 22,
        "parent_states": 8,
        "parent_retries": 1,
        "child_executions": 3,
        "child_states": 8,
        "child_retries": 2,
        "redrives": 0,
    }
    # Every page was read (page size 2 < 3 children, < every history's length), without execution data.
    histories = [kw for name, kw in fake.calls if name == "get_execution_history"]
    assert {kw["executionArn"] for kw in histories} == {"parent", "c0", "c1", "c2"}
    assert any("nextToken" in kw for kw in histories)
    assert all(kw.get("includeExecutionData") is False for kw in histories)
    listed = [kw for name, kw in fake.calls if name == "list_executions"]
    assert [kw.get("nextToken") for kw in listed] == [None, "2"]
    assert all(kw["mapRunArn"] == "maprun:Downloads" for kw in listed)


@pytest.mark.parametrize("n", [1, 2, 100])
def test_success_path_count_equals_the_cost_models_estimate(n: int) -> None:
    """Without retries the rule gives what cost.estimate_transitions predicts from the ASL: 8 + 3 each."""
    parent = _parent(aggregate_attempts=1)
    assert count_transitions(parent) == TransitionCount(8, 0)
    fake = _fake({f"c{i}": CHILD_OK for i in range(n)}, page=7)
    fake.histories["parent"] = parent
    counted = count_run_transitions(fake, "parent")
    rows = [{"index": i, "latency_ms": 1.0, "error": "", "attempt": 1} for i in range(n)]
    assert counted.total == 8 + 3 * n == estimate_transitions({"invocations": {"requested": n}}, rows)


def test_history_pages_through_and_keeps_execution_data_by_default() -> None:
    fake = _fake({}, page=4)
    assert [e["id"] for e in history(fake, "parent")] == [e["id"] for e in PARENT]
    first = fake.calls[0][1]
    assert "includeExecutionData" not in first and first["maxResults"] == 1000


def test_every_map_run_of_the_execution_is_counted() -> None:
    histories: dict[str, Sequence[dict[str, Any]]] = {"parent": PARENT, "a0": CHILD_OK, "b0": CHILD_FAILED}
    fake = FakeSfn(
        histories, {"parent": ["maprun:a", "maprun:b"]}, {"maprun:a": ["a0"], "maprun:b": ["b0"]}, 1
    )
    counted = count_run_transitions(fake, "parent")
    assert counted.child_executions == 2
    assert counted.total == 9 + 2 + (2 + 4) + 2
    assert [kw.get("nextToken") for name, kw in fake.calls if name == "list_map_runs"] == [None, "1"]
