"""Faults the download code performs for real (``PERFLAB_INJECT``): the platform enforces and reports.

Each run has 6 invocations; the fault hits every other one (``FAULT:2``: indexes 0, 2, 4), so a run
shows both outcomes. The faults strike after the download and before the record, so the failed
invocations have no record of their own: the state machine's Catch records them, with the error the
platform reported.
"""

from __future__ import annotations

import pytest

from perflab.faults import EXIT_CODE
from tests.faults.conftest import Workload, check_accounted, ecs_exit_code, run_with_fault

pytestmark = pytest.mark.faults

N = 6
HIT = {0, 2, 4}


def check_every_other_failed(run_failed: list[int]) -> None:
    assert set(run_failed) == HIT


@pytest.mark.parametrize(
    ("fault", "compute", "error"),
    [
        ("raise", "lambda", "InjectedFault"),
        ("raise", "ecs", "States.TaskFailed"),
        ("exit", "lambda", "Runtime.ExitError"),
        ("exit", "ecs", "States.TaskFailed"),
        ("kill", "lambda", "Runtime.ExitError"),
        ("kill", "ecs", "States.TaskFailed"),
    ],
)
def test_crash_before_the_record_is_recorded_by_the_state_machine(
    workload: Workload, fault: str, compute: str, error: str
) -> None:
    with workload.injected(f"{fault}:2"):
        run = run_with_fault(workload, compute, "s3", N, label=f"inject {fault}")
    check_accounted(run, {error})
    check_every_other_failed([r.index for r in run.failed])
    for record in run.failed:
        assert record.error_type == error
        if compute == "ecs":  # the task's own exit code, as ECS reported it to Step Functions
            expected = {"raise": 1, "exit": EXIT_CODE, "kill": 137}[fault]
            assert ecs_exit_code(record) == expected, record.error_message
        elif fault == "raise":
            assert "injected fault" in (record.error_message or "")
        else:
            assert "Runtime exited" in (record.error_message or "")
    for item in run.items:
        hit = item["index"] in HIT
        assert (item.get("recorded_by") == "step-functions") == hit  # the Catch wrote only the failures


def test_lambda_exceeding_its_timeout_is_sandbox_timedout(workload: Workload) -> None:
    with workload.injected("timeout:2", lambda_timeout_s=2):
        run = run_with_fault(workload, "lambda", "s3", N, label="inject timeout")
    check_accounted(run, {"Sandbox.Timedout"})
    check_every_other_failed([r.index for r in run.failed])
    assert all("Task timed out after 2.00 seconds" in (r.error_message or "") for r in run.failed)


def test_lambda_exceeding_its_memory_is_out_of_memory(workload: Workload) -> None:
    lam = workload.aws("lambda")
    with workload.injected("memory:2"):
        lam.update_function_configuration(FunctionName=workload.deployment.download_function, MemorySize=256)
        run = run_with_fault(workload, "lambda", "s3", N, label="inject memory", max_concurrency=3)
    check_accounted(run, {"Runtime.OutOfMemory"})
    check_every_other_failed([r.index for r in run.failed])
    assert (
        lam.get_function_configuration(FunctionName=workload.deployment.download_function)["MemorySize"]
        == 1024
    )


@pytest.mark.parametrize("compute", ["lambda", "ecs"])
def test_throttled_record_writes_are_retried_and_counted_once(workload: Workload, compute: str) -> None:
    with workload.injected("ddb-throttle"):
        run = run_with_fault(workload, compute, "s3", N, label="inject ddb-throttle")
    check_accounted(run, set())
    assert len(run.succeeded) == N
    for item in run.items:  # one record per invocation, one attempt counted, written by the handler
        assert item["attempts"] == 1 and list(item["attempt_numbers"]) == [1], item
        assert "recorded_by" not in item
    if compute == "lambda":  # the environments' own logs show every injected answer
        logs = workload.aws("logs").get_paginator("filter_log_events")
        group = f"/aws/lambda/{workload.deployment.download_function}"
        lines = [
            e["message"]
            for page in logs.paginate(logGroupName=group)
            for e in page["events"]
            if "ddb-throttle" in e["message"] and run.request.run_id in e["message"]
        ]
        assert sum("ProvisionedThroughputExceededException" in line for line in lines) == 2 * N
        assert sum("InternalServerError after the write" in line for line in lines) == N
