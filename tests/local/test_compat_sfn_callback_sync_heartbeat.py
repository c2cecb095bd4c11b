"""sfn_callback_sync_heartbeat: .sync tasks do not wait for heartbeats.

The gap is shown in ``test_compat_sfn_gaps.py``.
"""

from __future__ import annotations

from typing import Any

from tests.conftest import ClientFactory
from tests.local.helpers import create_state_machine, run_state_machine
from tests.local.sfn_compat import task

#: A child that runs longer than the parent task's HeartbeatSeconds.
CHILD = {"StartAt": "W", "States": {"W": {"Type": "Wait", "Seconds": 2, "End": True}}}


def run_sync_longer_than_heartbeat(aws: ClientFactory) -> dict[str, Any]:
    sfn = aws("stepfunctions")
    child = create_state_machine(sfn, CHILD)
    definition = task(
        "arn:aws:states:::states:startExecution.sync",
        {"StateMachineArn": child, "Input": {}},
        HeartbeatSeconds=1,
        TimeoutSeconds=30,
    )
    return run_state_machine(sfn, definition, timeout=30)


def test_sync_task_longer_than_heartbeat_seconds_succeeds(aws: ClientFactory) -> None:
    described = run_sync_longer_than_heartbeat(aws)
    assert described["status"] == "SUCCEEDED", described
