"""A run's live progress from Step Functions: what the dashboard polls while an execution runs.

Plain Step Functions APIs (``DescribeExecution``, ``GetExecutionHistory``, ``ListMapRuns``,
``DescribeMapRun``), so it answers the same on the local endpoint and on AWS. The states come from
the history (:func:`perflab.inspect.state_spans`): each with its type, when it was entered and exited
and its duration; ``current`` lists the states entered and not yet exited (what the graph
highlights). The Map run's ``itemCounts`` are the live fan-out progress.
"""

from __future__ import annotations

from datetime import datetime
from typing import Any

from perflab.history import history, map_run_arns
from perflab.inspect import state_spans

#: ``ExecutionFailed``/``TaskFailed``… events whose state the graph marks as failed.
_FAILURE_SUFFIXES = ("Failed", "TimedOut", "Aborted")


def _epoch(value: Any) -> float | None:
    return value.timestamp() if isinstance(value, datetime) else None


def _failed_states(events: list[dict[str, Any]]) -> list[str]:
    """States in which a failure event happened (the state entered most recently before it)."""
    failed: list[str] = []
    current: str | None = None
    for event in events:
        kind = str(event["type"])
        if kind.endswith("StateEntered"):
            current = event.get("stateEnteredEventDetails", {}).get("name")
        elif kind.endswith(_FAILURE_SUFFIXES) and current and current not in failed:
            failed.append(current)
    return failed


def map_states(events: list[dict[str, Any]]) -> dict[str, str]:
    """Map run ARN → the Map state that started it (the Map state entered last before ``MapRunStarted``;
    the ARN itself carries the state's ``Label``, which defaults to a generated id, not its name)."""
    found: dict[str, str] = {}
    current: str | None = None
    for event in events:
        kind = str(event["type"])
        if kind == "MapStateEntered":
            current = event.get("stateEnteredEventDetails", {}).get("name")
        elif kind == "MapRunStarted" and current:
            arn = event.get("mapRunStartedEventDetails", {}).get("mapRunArn")
            if arn:
                found[str(arn)] = current
    return found


def map_run_counts(
    sfn: Any, execution_arn: str, states: dict[str, str] | None = None
) -> list[dict[str, Any]]:
    """Each Map run of the execution with its item counts (``total``, ``succeeded``, ``failed``…) and
    the Map state it belongs to (from ``states``, :func:`map_states`; None when unknown)."""
    runs: list[dict[str, Any]] = []
    for map_run_arn in map_run_arns(sfn, execution_arn):
        described = sfn.describe_map_run(mapRunArn=map_run_arn)
        state = (states or {}).get(map_run_arn)
        runs.append(
            {
                "map_run_arn": map_run_arn,
                "state": state,
                "status": described.get("status"),
                "item_counts": {k: int(v) for k, v in (described.get("itemCounts") or {}).items()},
            }
        )
    return runs


def execution_progress(sfn: Any, execution_arn: str) -> dict[str, Any]:
    """The execution's status, states (with durations), current states and Map run counts."""
    described = sfn.describe_execution(executionArn=execution_arn)
    events = list(history(sfn, execution_arn))
    spans = state_spans(events)
    start = _epoch(described.get("startDate"))
    stop = _epoch(described.get("stopDate"))
    return {
        "execution_arn": execution_arn,
        "status": described.get("status"),
        "started_at": start,
        "stopped_at": stop,
        "error": described.get("error"),
        "states": [
            {
                "name": span.name,
                "type": span.type,
                "entered_at": span.entered,
                "exited_at": span.exited,
                "duration_s": span.duration_s,
            }
            for span in spans
        ],
        "current": [span.name for span in spans if span.exited is None],
        "failed": _failed_states(events),
        "map_runs": map_run_counts(sfn, execution_arn, map_states(events)),
    }
