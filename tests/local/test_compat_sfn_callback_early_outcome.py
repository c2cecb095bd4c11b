"""sfn_callback_early_outcome: a task-token outcome or heartbeat that arrives early is kept.

The gap is shown in ``test_compat_sfn_gaps.py``.
"""

from __future__ import annotations

import json
import threading
import time
from typing import Any

from tests.conftest import ClientFactory
from tests.local.helpers import (
    create_state_machine,
    distributed_map,
    run_state_machine,
    start_execution,
    wait_for_execution,
)
from tests.local.sfn_compat import make_queue

ITEMS = 20


def answered_by_the_integration_itself() -> dict[str, Any]:
    """Each item's integration *is* SendTaskSuccess for its own token: the outcome always arrives
    before the interpreter sets up the heartbeat watcher, the extreme of the race."""
    return {
        "StartAt": "Each",
        "States": {
            "Each": {
                "Type": "Map",
                "ItemsPath": "$.items",
                "ItemProcessor": {
                    "ProcessorConfig": {"Mode": "INLINE"},
                    "StartAt": "Answer",
                    "States": {
                        "Answer": {
                            "Type": "Task",
                            "Resource": "arn:aws:states:::aws-sdk:sfn:sendTaskSuccess.waitForTaskToken",
                            "Parameters": {
                                "TaskToken.$": "$$.Task.Token",
                                "Output.$": "States.JsonToString($)",
                            },
                            "HeartbeatSeconds": 2,
                            "TimeoutSeconds": 30,
                            "End": True,
                        }
                    },
                },
                "End": True,
            }
        },
    }


def test_outcome_sent_before_the_watcher_exists_completes_the_task(aws: ClientFactory) -> None:
    items = [{"i": i} for i in range(ITEMS)]
    described = run_state_machine(
        aws("stepfunctions"), answered_by_the_integration_itself(), {"items": items}, timeout=30
    )
    assert described["status"] == "SUCCEEDED", described
    assert json.loads(described["output"]) == items


def test_heartbeat_sent_before_the_watcher_exists_is_accepted(aws: ClientFactory) -> None:
    definition = {
        "StartAt": "Beat",
        "States": {
            "Beat": {
                "Type": "Task",
                "Resource": "arn:aws:states:::aws-sdk:sfn:sendTaskHeartbeat.waitForTaskToken",
                "Parameters": {"TaskToken.$": "$$.Task.Token"},
                "HeartbeatSeconds": 1,
                "TimeoutSeconds": 10,
                "End": True,
            }
        },
    }
    described = run_state_machine(aws("stepfunctions"), definition, timeout=30)
    # Nobody sends an outcome, so the task times out; but the early heartbeat was accepted.
    events = aws("stepfunctions").get_execution_history(executionArn=described["executionArn"])
    types = [event["type"] for event in events["events"]]
    assert "TaskSubmitted" in types, types
    assert "TaskTimedOut" in types, types


def answer_from_queue(aws: ClientFactory, queue_url: str, expected: int, stop: threading.Event) -> list[str]:
    """Answer each token as soon as its message arrives (heartbeat first, then success)."""
    sqs, sfn = aws("sqs"), aws("stepfunctions")
    answered: list[str] = []
    while len(answered) < expected and not stop.is_set():
        messages = sqs.receive_message(QueueUrl=queue_url, MaxNumberOfMessages=10, WaitTimeSeconds=1).get(
            "Messages", []
        )
        for message in messages:
            body = json.loads(message["Body"])
            sfn.send_task_heartbeat(taskToken=body["token"])
            sfn.send_task_success(taskToken=body["token"], output=json.dumps({"i": body["i"]}))
            sqs.delete_message(QueueUrl=queue_url, ReceiptHandle=message["ReceiptHandle"])
            answered.append(body["token"])
    return answered


def test_distributed_map_of_callbacks_answered_immediately_all_succeed(aws: ClientFactory) -> None:
    queue_url = make_queue(aws)
    wait_for_worker = {
        "Type": "Task",
        "Resource": "arn:aws:states:::sqs:sendMessage.waitForTaskToken",
        "Parameters": {"QueueUrl": queue_url, "MessageBody": {"token.$": "$$.Task.Token", "i.$": "$.i"}},
        "HeartbeatSeconds": 5,
        "TimeoutSeconds": 30,
        "End": True,
    }
    definition = distributed_map(
        "Wait for worker", {"Wait for worker": wait_for_worker}, MaxConcurrency=ITEMS
    )
    items = [{"i": i} for i in range(ITEMS)]
    sfn = aws("stepfunctions")
    execution_arn = start_execution(sfn, create_state_machine(sfn, definition), {"items": items})
    stop = threading.Event()
    answered: list[str] = []
    worker = threading.Thread(target=lambda: answered.extend(answer_from_queue(aws, queue_url, ITEMS, stop)))
    worker.start()
    started = time.monotonic()
    try:
        described = wait_for_execution(sfn, execution_arn, timeout=60)
    finally:
        stop.set()
        worker.join(timeout=10)
    assert described["status"] == "SUCCEEDED", described
    assert sorted(json.loads(described["output"]), key=lambda o: o["i"]) == items
    assert len(answered) == ITEMS
    # Answered at once, so no item waited for its heartbeat to time out.
    assert time.monotonic() - started < 5
