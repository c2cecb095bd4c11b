"""compat ``sfn_map_run_executions``: every Distributed Map item is a child execution.

That the gap is real (without the patch ListExecutions(mapRunArn=...) fails) is shown in
``test_compat_sfn_map_gaps.py``.
"""

from __future__ import annotations

import json
import re
from datetime import datetime
from typing import Any

import pytest

from tests.conftest import ClientFactory
from tests.local.helpers import create_state_machine, distributed_map, start_execution, wait_for_execution

FAILING = {3, 50, 97}


def fanout(max_concurrency: int, wait_seconds: int) -> dict[str, Any]:
    """Each item waits, then fails (Fail state) when ``item.fail`` is true, else echoes its value."""
    states = {
        "Work": {"Type": "Wait", "Seconds": wait_seconds, "Next": "Check"},
        "Check": {
            "Type": "Choice",
            "Choices": [{"Variable": "$.fail", "BooleanEquals": True, "Next": "ItemFails"}],
            "Default": "ItemWorks",
        },
        "ItemFails": {"Type": "Fail", "Error": "Item.Failed", "Cause": "asked to"},
        "ItemWorks": {
            "Type": "Pass",
            "Parameters": {"value.$": "$.value", "execution.$": "$$.Execution.Id"},
            "End": True,
        },
    }
    return distributed_map(
        "Work",
        states,
        Label="Items",
        MaxConcurrency=max_concurrency,
        ToleratedFailurePercentage=100,
        ItemSelector={"value.$": "$$.Map.Item.Value.value", "fail.$": "$$.Map.Item.Value.fail"},
    )


def items(count: int) -> list[dict[str, Any]]:
    return [{"value": i, "fail": i in FAILING} for i in range(count)]


def start(sfn: Any, max_concurrency: int, count: int, wait_seconds: int) -> tuple[str, str]:
    arn = create_state_machine(sfn, fanout(max_concurrency, wait_seconds), "map-children")
    name = arn.rsplit(":", 1)[1]
    return name, start_execution(sfn, arn, {"items": items(count)})


def list_children(sfn: Any, map_run_arn: str, **kwargs: Any) -> list[dict[str, Any]]:
    children: list[dict[str, Any]] = []
    for page in sfn.get_paginator("list_executions").paginate(mapRunArn=map_run_arn, **kwargs):
        children.extend(page["executions"])
    return children


def max_overlap(children: list[dict[str, Any]]) -> int:
    """The most children that were running at the same moment."""
    edges: list[tuple[datetime, int]] = []
    for child in children:
        edges += [(child["startDate"], 1), (child["stopDate"], -1)]
    running = peak = 0
    for _, step in sorted(edges):  # at equal times a stop (-1) sorts before a start (+1)
        running += step
        peak = max(peak, running)
    return peak


@pytest.fixture(scope="module")
def runs(aws: ClientFactory) -> dict[str, Any]:
    """Two fan-outs run at once: 100 items unbounded, and 12 items at most 3 at a time."""
    sfn = aws("stepfunctions")
    wide = start(sfn, max_concurrency=100, count=100, wait_seconds=1)
    narrow = start(sfn, max_concurrency=3, count=12, wait_seconds=1)
    result: dict[str, Any] = {}
    for key, (name, execution_arn) in {"wide": wide, "narrow": narrow}.items():
        described = wait_for_execution(sfn, execution_arn, timeout=120)
        assert described["status"] == "SUCCEEDED", described
        (map_run,) = sfn.list_map_runs(executionArn=execution_arn)["mapRuns"]
        result[key] = {"name": name, "execution": described, "map_run": map_run}
    return result


def test_items_are_listable_child_executions(aws: ClientFactory, runs: dict[str, Any]) -> None:
    sfn = aws("stepfunctions")
    run = runs["wide"]
    map_run_arn = run["map_run"]["mapRunArn"]
    children = list_children(sfn, map_run_arn, PaginationConfig={"PageSize": 30})

    assert len(children) == 100
    assert len({child["executionArn"] for child in children}) == 100
    arn_shape = re.compile(
        rf"arn:aws:states:[a-z0-9-]+:\d{{12}}:execution:{run['name']}/Items:[0-9a-f-]{{36}}$"
    )
    for child in children:
        assert arn_shape.match(child["executionArn"]), child["executionArn"]
        assert child["executionArn"].endswith(":" + child["name"])
        assert child["stateMachineArn"] == run["map_run"]["stateMachineArn"]
        assert child["stateMachineArn"].endswith(f":stateMachine:{run['name']}/Items")
        assert child["mapRunArn"] == map_run_arn
    statuses = sorted(child["status"] for child in children)
    assert statuses == ["FAILED"] * 3 + ["SUCCEEDED"] * 97

    failed = list_children(sfn, map_run_arn, statusFilter="FAILED")
    assert sorted(
        json.loads(sfn.describe_execution(executionArn=c["executionArn"])["input"])["value"] for c in failed
    ) == sorted(FAILING)


def test_child_describe_and_history(aws: ClientFactory, runs: dict[str, Any]) -> None:
    sfn = aws("stepfunctions")
    run = runs["wide"]
    children = list_children(sfn, run["map_run"]["mapRunArn"])
    by_value = {}
    for child in children:
        described = sfn.describe_execution(executionArn=child["executionArn"])
        by_value[json.loads(described["input"])["value"]] = described

    ok = by_value[0]
    assert ok["status"] == "SUCCEEDED"
    assert ok["mapRunArn"] == run["map_run"]["mapRunArn"]
    assert json.loads(ok["input"]) == {"value": 0, "fail": False}
    # Inside the child, $$.Execution.Id is the child's own ARN.
    assert json.loads(ok["output"]) == {"value": 0, "execution": ok["executionArn"]}
    assert ok["stopDate"] >= ok["startDate"]
    # The parent's output lists the successful items in order.
    parent_output = json.loads(run["execution"]["output"])
    assert [o["value"] for o in parent_output] == [i for i in range(100) if i not in FAILING]

    bad = by_value[50]
    assert bad["status"] == "FAILED"
    assert (bad["error"], bad["cause"]) == ("Item.Failed", "asked to")

    ok_types = [e["type"] for e in sfn.get_execution_history(executionArn=ok["executionArn"])["events"]]
    assert ok_types[0] == "ExecutionStarted"
    assert ok_types[-1] == "ExecutionSucceeded"
    assert {"WaitStateEntered", "ChoiceStateEntered", "PassStateExited"} <= set(ok_types)
    bad_events = sfn.get_execution_history(executionArn=bad["executionArn"])["events"]
    assert bad_events[0]["type"] == "ExecutionStarted"
    assert bad_events[-1]["type"] == "ExecutionFailed"
    assert bad_events[-1]["executionFailedEventDetails"]["error"] == "Item.Failed"
    assert [e["id"] for e in bad_events] == list(range(1, len(bad_events) + 1))

    # The parent's history keeps only the parent's events.
    parent_types = {
        e["type"]
        for e in sfn.get_execution_history(executionArn=run["execution"]["executionArn"], maxResults=1000)[
            "events"
        ]
    }
    assert "WaitStateEntered" not in parent_types
    assert {"MapRunStarted", "MapRunSucceeded"} <= parent_types


def test_map_run_counts(aws: ClientFactory, runs: dict[str, Any]) -> None:
    sfn = aws("stepfunctions")
    described = sfn.describe_map_run(mapRunArn=runs["wide"]["map_run"]["mapRunArn"])

    expected = {"pending": 0, "running": 0, "succeeded": 97, "failed": 3, "total": 100}
    for counts in (described["itemCounts"], described["executionCounts"]):
        assert {key: counts[key] for key in expected} == expected


def test_max_concurrency_is_honoured(aws: ClientFactory, runs: dict[str, Any]) -> None:
    sfn = aws("stepfunctions")
    wide = list_children(sfn, runs["wide"]["map_run"]["mapRunArn"])
    narrow = list_children(sfn, runs["narrow"]["map_run"]["mapRunArn"])

    assert len(narrow) == 12
    assert max_overlap(narrow) <= 3
    # 100 one-second items with MaxConcurrency 100 all run at once, not a few at a time.
    assert max_overlap(wide) >= 50


def test_unknown_map_run_is_not_found(aws: ClientFactory) -> None:
    sfn = aws("stepfunctions")
    bogus = "arn:aws:states:us-east-1:123456789012:mapRun:nothing/here:0000"
    with pytest.raises(sfn.exceptions.ResourceNotFound):
        sfn.list_executions(mapRunArn=bogus)
