"""sfn_timestamps: SDK timestamps in integration results are epoch milliseconds; DescribeExecution works.

The gap is shown in ``test_compat_sfn_gaps.py``.
"""

from __future__ import annotations

import datetime
import json
import time

from perflab.local.compat.sfn_timestamps import epoch_millis, without_datetimes
from tests.conftest import ClientFactory
from tests.local.helpers import create_state_machine, run_state_machine
from tests.local.sfn_compat import task

PASS = {"StartAt": "P", "States": {"P": {"Type": "Pass", "End": True}}}


def test_datetimes_become_epoch_milliseconds() -> None:
    moment = datetime.datetime(2024, 1, 2, 3, 4, 5, 678000, tzinfo=datetime.UTC)
    assert epoch_millis(moment) == 1704164645678
    assert epoch_millis(moment.replace(tzinfo=None)) == 1704164645678
    value = {"A": [moment, {"B": moment}], "C": "text", "D": 1}
    assert without_datetimes(value) == {
        "A": [1704164645678, {"B": 1704164645678}],
        "C": "text",
        "D": 1,
    }


def describe_state_machine_output(aws: ClientFactory) -> dict[str, object]:
    """Run a Task whose SDK response holds a timestamp (CreationDate) straight into the output."""
    sfn = aws("stepfunctions")
    described_arn = create_state_machine(sfn, PASS)
    definition = task("arn:aws:states:::aws-sdk:sfn:describeStateMachine", {"StateMachineArn": described_arn})
    return run_state_machine(sfn, definition)


def test_timestamps_in_results_keep_describe_execution_working(aws: ClientFactory) -> None:
    before_ms = time.time() * 1000
    described = describe_state_machine_output(aws)
    assert described["status"] == "SUCCEEDED", described
    output = json.loads(str(described["output"]))
    assert isinstance(output["CreationDate"], int)
    assert before_ms - 60_000 < output["CreationDate"] < time.time() * 1000 + 60_000
    # The other read APIs a client uses on that execution answer too.
    sfn = aws("stepfunctions")
    events = sfn.get_execution_history(executionArn=described["executionArn"])["events"]
    assert events[-1]["type"] == "ExecutionSucceeded"
    listed = sfn.list_executions(stateMachineArn=described["stateMachineArn"])["executions"]
    assert [e["status"] for e in listed] == ["SUCCEEDED"]
