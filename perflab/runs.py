"""Starting a run and following it: the one path the trigger API and ``perflab bench`` share.

A run is recorded (``ResultsStore.put_run``) before its execution starts, so a run that fails to start
is still visible, and the execution is named after the run id, so starting the same run twice fails
in Step Functions (``ExecutionAlreadyExists``) instead of running twice.
"""

from __future__ import annotations

import json
import time
from collections.abc import Callable, Sequence
from typing import Any, Protocol

from perflab.config import RunRequest
from perflab.download import InvocationResult
from perflab.results import ResultsStore, summarize

#: Step Functions execution statuses after which the execution does not change.
TERMINAL = ("SUCCEEDED", "FAILED", "TIMED_OUT", "ABORTED")
#: Run statuses (the runs table's, which adds COMPLETED_WITH_FAILURES) after which nothing changes;
#: the trigger API checks any other stored status against the execution.
RUN_TERMINAL_STATUSES = frozenset({"SUCCEEDED", "COMPLETED_WITH_FAILURES", "FAILED", "TIMED_OUT", "ABORTED"})


class HasStateMachine(Protocol):
    @property
    def state_machine_arn(self) -> str: ...


ClientFactory = Callable[[str], Any]


def execution_input(request: RunRequest) -> dict[str, Any]:
    """The state machine's input: the validated request (small: never per-invocation data)."""
    return request.to_input()


def start_run(
    clients: ClientFactory, deployment: HasStateMachine, store: ResultsStore, request: RunRequest
) -> str:
    """Record the run, start its execution; return the execution ARN."""
    store.put_run(request.run_id, request, "RUNNING", time.time())
    response = clients("stepfunctions").start_execution(
        stateMachineArn=deployment.state_machine_arn,
        name=request.run_id,
        input=json.dumps(execution_input(request)),
    )
    arn = str(response["executionArn"])
    store.set_execution(request.run_id, arn)
    return arn


def count_records(clients: ClientFactory, table: str, run_id: str) -> int:
    """How many invocation records the run has written so far (a cheap COUNT query)."""
    ddb = clients("dynamodb")
    total = 0
    kwargs: dict[str, Any] = {
        "TableName": table,
        "KeyConditionExpression": "run_id = :r",
        "ExpressionAttributeValues": {":r": {"S": run_id}},
        "Select": "COUNT",
    }
    while True:
        page = ddb.query(**kwargs)
        total += int(page["Count"])
        if "LastEvaluatedKey" not in page:
            return total
        kwargs["ExclusiveStartKey"] = page["LastEvaluatedKey"]


def wait_for_run(
    clients: ClientFactory,
    store: ResultsStore,
    request: RunRequest,
    execution_arn: str,
    on_progress: Callable[[int, int, float], None] | None = None,
    poll_s: float = 0.5,
    timeout_s: float = 3600.0,
) -> dict[str, Any]:
    """Follow the execution until it ends; return the run summary (``RunSummary.to_json()`` shape).

    When the execution failed before its Aggregate step wrote a summary, the summary is computed here
    from whatever records exist, so every requested invocation is still accounted for.
    """
    sfn = clients("stepfunctions")
    started = time.monotonic()
    while True:
        described = sfn.describe_execution(executionArn=execution_arn)
        status = described["status"]
        if on_progress is not None:
            done = count_records(clients, store.invocations_table, request.run_id)
            on_progress(done, request.invocations, time.monotonic() - started)
        if status in TERMINAL:
            break
        if time.monotonic() - started > timeout_s:
            sfn.stop_execution(executionArn=execution_arn, error="perflab.Timeout", cause="bench timeout")
            continue
        time.sleep(poll_s)
    run = store.get_run(request.run_id) or {}
    summary = run.get("summary")
    if isinstance(summary, dict) and summary:
        return summary
    wall = (described["stopDate"] - described["startDate"]).total_seconds()
    return fallback_summary(request, store.invocations(request.run_id), wall, status, described.get("error"))


def fallback_summary(
    request: RunRequest,
    records: Sequence[InvocationResult],
    wall_s: float | None,
    status: str,
    error: str | None,
) -> dict[str, Any]:
    """The summary of a run whose execution ended without one, from whatever records exist.

    ``status`` is the execution's (or the follower's) final status, reported as ``EXECUTION_<status>``.
    """
    computed = summarize(request, records, wall_s).to_json()
    computed["status"] = f"EXECUTION_{status}"
    computed["execution_error"] = error
    return computed
