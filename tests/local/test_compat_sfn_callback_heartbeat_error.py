"""sfn_callback_heartbeat_error: a missed heartbeat is States.HeartbeatTimeout.

The gap is shown in ``test_compat_sfn_gaps.py``.
"""

from __future__ import annotations

import json
from typing import Any

from tests.conftest import ClientFactory
from tests.local.helpers import create_state_machine, start_execution, wait_for_execution
from tests.local.sfn_compat import make_queue


def unanswered(queue_url: str, catch: list[str] | None) -> dict[str, Any]:
    """A callback task nobody answers: it misses its 1 s heartbeat."""
    state: dict[str, Any] = {
        "Type": "Task",
        "Resource": "arn:aws:states:::sqs:sendMessage.waitForTaskToken",
        "Parameters": {"QueueUrl": queue_url, "MessageBody": {"token.$": "$$.Task.Token"}},
        "HeartbeatSeconds": 1,
        "TimeoutSeconds": 20,
        "End": True,
    }
    states: dict[str, Any] = {"Wait": state}
    if catch is not None:
        state["Catch"] = [{"ErrorEquals": catch, "Next": "Caught"}]
        states["Caught"] = {"Type": "Pass", "End": True}
    return {"StartAt": "Wait", "States": states}


def run_all(aws: ClientFactory, catches: list[list[str] | None]) -> list[dict[str, Any]]:
    """Start one execution per catcher at once (each costs a heartbeat period), then wait."""
    sfn, queue_url = aws("stepfunctions"), make_queue(aws)
    arns = [start_execution(sfn, create_state_machine(sfn, unanswered(queue_url, c))) for c in catches]
    return [wait_for_execution(sfn, arn, timeout=30) for arn in arns]


def test_heartbeat_timeout_is_reported_and_caught_as_aws_does(aws: ClientFactory) -> None:
    uncaught, specific, general, other = run_all(
        aws, [None, ["States.HeartbeatTimeout"], ["States.Timeout"], ["States.TaskFailed"]]
    )
    assert (uncaught["status"], uncaught.get("error")) == ("FAILED", "States.HeartbeatTimeout")
    history = aws("stepfunctions").get_execution_history(executionArn=uncaught["executionArn"])
    timed_out = [e for e in history["events"] if e["type"] == "TaskTimedOut"]
    assert timed_out[0]["taskTimedOutEventDetails"]["error"] == "States.HeartbeatTimeout"
    # A catcher on the specific name and one on States.Timeout both catch it; others do not.
    for caught in (specific, general):
        assert caught["status"] == "SUCCEEDED", caught
        assert json.loads(caught["output"])["Error"] == "States.HeartbeatTimeout"
    assert (other["status"], other.get("error")) == ("FAILED", "States.HeartbeatTimeout")
