"""The trivial workload of the local-cloud smoke benchmark: record that this invocation ran.

Deployed two ways from this one file: zipped as a Lambda function (``smoke_handler.handler``), and run
as an ECS task (``python -m perflab.local.smoke_handler``). Each invocation writes one DynamoDB item:
evidence that the code really ran, with its start time, process id and whether it was a cold start.
Standard library + boto3 only. ``fail`` / ``sleep_s`` in the event (``FAIL=1`` for the task) make it
fail or overrun on purpose, for the failure tests.
"""

from __future__ import annotations

import json
import os
import sys
import time
from typing import Any

_cold = True
_client: Any = None


def _dynamodb() -> Any:
    global _client
    if _client is None:
        import boto3

        _client = boto3.client("dynamodb")
    return _client


def record(table: str, run_id: str, index: int, started_at: float, compute: str) -> bool:
    """Write this invocation's item; return whether it was this environment's first (cold)."""
    global _cold
    cold, _cold = _cold, False
    _dynamodb().put_item(
        TableName=table,
        Item={
            "run_id": {"S": run_id},
            "index": {"N": str(index)},
            "started_at": {"N": repr(started_at)},
            "finished_at": {"N": repr(time.time())},
            "cold": {"BOOL": cold},
            "pid": {"N": str(os.getpid())},
            "compute": {"S": compute},
        },
    )
    return cold


def handler(event: dict[str, Any], context: Any) -> dict[str, Any]:
    started_at = time.time()
    if event.get("fail"):
        raise RuntimeError(f"invocation {event['index']} asked to fail")
    if event.get("sleep_s"):
        time.sleep(float(event["sleep_s"]))  # lets tests exceed the function's Timeout
    cold = record(os.environ["SMOKE_TABLE"], event["run_id"], int(event["index"]), started_at, "lambda")
    return {"index": event["index"], "cold": cold}


def main() -> int:
    """ECS entrypoint: RUN_ID, INDEX, SMOKE_TABLE from the environment; TASK_TOKEN when the state
    machine waits for a callback."""
    started_at = time.time()
    index = int(os.environ["INDEX"])
    if os.environ.get("FAIL") == "1":
        print(f"task {index} asked to fail", file=sys.stderr)
        return 1
    record(os.environ["SMOKE_TABLE"], os.environ["RUN_ID"], index, started_at, "ecs")
    token = os.environ.get("TASK_TOKEN")
    if token:
        import boto3

        boto3.client("stepfunctions").send_task_success(taskToken=token, output=json.dumps({"index": index}))
    return 0


if __name__ == "__main__":
    sys.exit(main())
