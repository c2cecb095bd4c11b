"""sfn_context_start_time: $$.Execution.StartTime is an ISO 8601 string, usable like any context value."""

from __future__ import annotations

import datetime
import json

from perflab.local.compat.sfn_context_start_time import iso_utc
from tests.conftest import ClientFactory
from tests.local.helpers import run_state_machine


def test_start_time_is_an_iso_string(aws: ClientFactory) -> None:
    definition = {
        "StartAt": "Show",
        "States": {
            "Show": {
                "Type": "Pass",
                "Parameters": {
                    "start.$": "$$.Execution.StartTime",
                    "text.$": "States.Format('{}', $$.Execution.StartTime)",
                },
                "End": True,
            }
        },
    }
    described = run_state_machine(aws("stepfunctions"), definition, {})
    assert described["status"] == "SUCCEEDED", described
    output = json.loads(described["output"])
    start = output["start"]
    assert isinstance(start, str) and start.endswith("Z")
    parsed = datetime.datetime.fromisoformat(start.replace("Z", "+00:00"))
    assert abs((parsed - described["startDate"]).total_seconds()) < 1
    assert output["text"] == start


def test_iso_utc_format() -> None:
    value = datetime.datetime(2026, 11, 28, 10, 12, 15, 192_345, tzinfo=datetime.UTC)
    assert iso_utc(value) == "2026-11-28T10:12:15.192Z"
    assert iso_utc(value.replace(tzinfo=None)) == "2026-11-28T10:12:15.192Z"
