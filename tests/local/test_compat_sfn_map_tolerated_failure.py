"""compat ``sfn_map_tolerated_failure``: a Distributed Map fails over its tolerance, else succeeds.

That the gap is real (without the patch failed items become null and the map succeeds; an integer
percentage does not parse) is shown in ``test_compat_sfn_map_gaps.py``.
"""

from __future__ import annotations

import json
from typing import Any

import pytest

from tests.conftest import ClientFactory
from tests.local.helpers import create_state_machine, distributed_map, start_execution, wait_for_execution

THRESHOLD_ERROR = "States.ExceedToleratedFailureThreshold"


def fanout(tolerance: dict[str, Any], max_concurrency: int = 0) -> dict[str, Any]:
    """A Distributed Map whose item fails (a Fail state) when ``item.fail`` is true; a Catch on
    the Map routes any error to ``Caught`` with the error under ``$.error``."""
    states = {
        "Check": {
            "Type": "Choice",
            "Choices": [{"Variable": "$.fail", "BooleanEquals": True, "Next": "ItemFails"}],
            "Default": "ItemWorks",
        },
        "ItemFails": {"Type": "Fail", "Error": "Item.Failed", "Cause": "asked to fail"},
        "ItemWorks": {"Type": "Pass", "Parameters": {"value.$": "$.value"}, "End": True},
    }
    definition = distributed_map(
        "Check",
        states,
        MaxConcurrency=max_concurrency,
        **tolerance,
        Catch=[{"ErrorEquals": ["States.ALL"], "ResultPath": "$.error", "Next": "Caught"}],
        ResultPath="$.results",
    )
    definition["States"]["Caught"] = {"Type": "Pass", "End": True}
    return definition


def items(count: int, failing: set[int]) -> list[dict[str, Any]]:
    return [{"value": i, "fail": i in failing} for i in range(count)]


def start(sfn: Any, definition: dict[str, Any], execution_input: dict[str, Any]) -> str:
    return start_execution(sfn, create_state_machine(sfn, definition, "tolerance"), execution_input)


def finish(sfn: Any, execution_arn: str) -> tuple[dict[str, Any], dict[str, Any]]:
    """The finished execution's output and its (only) map run, described."""
    described = wait_for_execution(sfn, execution_arn, timeout=60)
    assert described["status"] == "SUCCEEDED", described
    (map_run,) = sfn.list_map_runs(executionArn=execution_arn)["mapRuns"]
    return json.loads(described["output"]), sfn.describe_map_run(mapRunArn=map_run["mapRunArn"])


FAILING = {2, 5, 7}  # 3 of 10 items fail: 30 %

WITHIN = [
    pytest.param({"ToleratedFailurePercentage": 100}, {}, id="integer-percentage-100"),
    pytest.param({"ToleratedFailurePercentage": 30.0}, {}, id="percentage-equal"),
    pytest.param({"ToleratedFailureCount": 3}, {}, id="count-equal"),
    pytest.param({"ToleratedFailurePercentagePath": "$.tolerance"}, {"tolerance": 50}, id="percentage-path"),
    pytest.param({"ToleratedFailureCountPath": "$.tolerance"}, {"tolerance": 5}, id="count-path"),
]

OVER = [
    pytest.param({}, id="no-tolerance"),
    pytest.param({"ToleratedFailurePercentage": 29}, id="percentage"),
    pytest.param({"ToleratedFailureCount": 2}, id="count"),
    pytest.param({"ToleratedFailureCount": 5, "ToleratedFailurePercentage": 20}, id="either"),
]


@pytest.mark.parametrize(("tolerance", "extra_input"), WITHIN)
def test_map_within_tolerance_succeeds_with_the_successful_outputs(
    aws: ClientFactory, tolerance: dict[str, Any], extra_input: dict[str, Any]
) -> None:
    sfn = aws("stepfunctions")
    execution_arn = start(sfn, fanout(tolerance), {"items": items(10, FAILING), **extra_input})
    output, map_run = finish(sfn, execution_arn)

    assert "error" not in output
    assert output["results"] == [{"value": i} for i in range(10) if i not in FAILING]
    assert map_run["status"] == "SUCCEEDED"
    assert map_run["itemCounts"]["failed"] == 3
    assert map_run["itemCounts"]["succeeded"] == 7


@pytest.mark.parametrize("tolerance", OVER)
def test_map_over_tolerance_fails_with_a_catchable_threshold_error(
    aws: ClientFactory, tolerance: dict[str, Any]
) -> None:
    sfn = aws("stepfunctions")
    execution_arn = start(sfn, fanout(tolerance), {"items": items(10, FAILING)})
    output, map_run = finish(sfn, execution_arn)

    assert "results" not in output
    assert output["error"]["Error"] == THRESHOLD_ERROR
    assert map_run["status"] == "FAILED"
    events = sfn.get_execution_history(executionArn=execution_arn, maxResults=1000)["events"]
    types = [event["type"] for event in events]
    assert "MapRunFailed" in types
    assert types.index("MapRunFailed") < types.index("MapStateFailed")


def test_uncaught_threshold_error_fails_the_execution(aws: ClientFactory) -> None:
    sfn = aws("stepfunctions")
    definition = fanout({"ToleratedFailureCount": 0})
    del definition["States"]["Fanout"]["Catch"]
    execution_arn = start(sfn, definition, {"items": items(4, {1})})

    described = wait_for_execution(sfn, execution_arn, timeout=60)
    assert described["status"] == "FAILED"
    assert described["error"] == THRESHOLD_ERROR


def test_no_new_items_start_once_the_threshold_is_exceeded(aws: ClientFactory) -> None:
    sfn = aws("stepfunctions")
    # One item at a time; the first item fails, so with no tolerance the run stops there.
    execution_arn = start(sfn, fanout({}, max_concurrency=1), {"items": items(10, {0})})
    output, map_run = finish(sfn, execution_arn)

    assert output["error"]["Error"] == THRESHOLD_ERROR
    assert map_run["itemCounts"]["failed"] == 1
    assert map_run["itemCounts"]["succeeded"] == 0
