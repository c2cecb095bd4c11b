"""compat ``sfn_map_states_errors``: a States.* error inside an inline Map or Parallel is catchable.

That the gap is real (without the patch the error becomes States.Runtime) is shown in
``test_compat_sfn_map_gaps.py``.
"""

from __future__ import annotations

import json
from typing import Any

import pytest

from tests.conftest import ClientFactory
from tests.local.helpers import run_state_machine


def _fail(error: str) -> dict[str, Any]:
    return {"StartAt": "Boom", "States": {"Boom": {"Type": "Fail", "Error": error, "Cause": "boom"}}}


def _guarded(state: dict[str, Any], catch_errors: list[str]) -> dict[str, Any]:
    """``state`` with a Catch for ``catch_errors`` that routes to a Pass state keeping the error."""
    return {
        "StartAt": "Guarded",
        "States": {
            "Guarded": {
                **state,
                "Catch": [{"ErrorEquals": catch_errors, "ResultPath": "$.error", "Next": "Caught"}],
                "End": True,
            },
            "Caught": {"Type": "Pass", "End": True},
        },
    }


def inline_map(error: str, catch_errors: list[str]) -> dict[str, Any]:
    return _guarded({"Type": "Map", "ItemsPath": "$.items", "ItemProcessor": _fail(error)}, catch_errors)


def parallel(error: str, catch_errors: list[str]) -> dict[str, Any]:
    ok = {"StartAt": "Ok", "States": {"Ok": {"Type": "Pass", "End": True}}}
    return _guarded({"Type": "Parallel", "Branches": [ok, _fail(error)]}, catch_errors)


CASES = [
    pytest.param(inline_map, "States.TaskFailed", ["States.TaskFailed"], id="map-taskfailed"),
    pytest.param(inline_map, "States.Timeout", ["States.Timeout"], id="map-timeout"),
    pytest.param(parallel, "States.Timeout", ["States.Timeout"], id="parallel-timeout"),
    pytest.param(parallel, "States.Something", ["States.ALL"], id="parallel-custom-states-name"),
    pytest.param(inline_map, "States.Something", ["States.ALL"], id="map-custom-states-name"),
]


def run(sfn: Any, definition: dict[str, Any]) -> dict[str, Any]:
    return run_state_machine(sfn, definition, {"items": [1, 2]}, name_prefix="states-errors")


@pytest.mark.parametrize(("shape", "error", "catch_errors"), CASES)
def test_states_error_inside_map_or_parallel_is_caught(
    aws: ClientFactory, shape: Any, error: str, catch_errors: list[str]
) -> None:
    described = run(aws("stepfunctions"), shape(error, catch_errors))

    assert described["status"] == "SUCCEEDED", described
    caught = json.loads(described["output"])["error"]
    assert caught == {"Error": error, "Cause": "boom"}


def test_uncaught_states_error_keeps_its_name(aws: ClientFactory) -> None:
    described = run(aws("stepfunctions"), inline_map("States.TaskFailed", ["Other.Error"]))

    assert described["status"] == "FAILED"
    assert described["error"] == "States.TaskFailed"
