"""The workload end to end on the local cloud: deploy, seed, run all four configurations, check the records.

Small on purpose (5 invocations of a 2 MB artifact per configuration, the four runs at once): the
full-size benchmark is ``make bench``. Every record is checked, the stored summary is compared with a
recomputation from the records, and a corrupted artifact must show up as recorded ChecksumMismatch
failures in an execution that still SUCCEEDS.
"""

from __future__ import annotations

import hashlib
import json
import time
from collections.abc import Iterator
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass
from typing import Any

import pytest

from perflab.config import RunRequest, Settings, load_settings
from perflab.deploy import TASK_IMAGE, Deployment, code_sha256, deploy, package_lambda
from perflab.download import InvocationResult
from perflab.local.stack import LocalCloudInfo
from perflab.results import ResultsStore, summarize
from perflab.runs import start_run
from perflab.seed import seed
from perflab.storage.base import ArtifactRef
from tests.conftest import ClientFactory, unique
from tests.local.helpers import wait_for_execution

pytestmark = pytest.mark.local

INVOCATIONS = 5
ARTIFACT_BYTES = 2_000_000
CONFIGURATIONS = [("lambda", "s3"), ("lambda", "rds"), ("ecs", "s3"), ("ecs", "rds")]


@dataclass
class Workload:
    settings: Settings
    deployment: Deployment
    ref: ArtifactRef
    store: ResultsStore


@dataclass
class Run:
    request: RunRequest
    execution: dict[str, Any]
    wall_s: float

    @property
    def output(self) -> dict[str, Any]:
        parsed: dict[str, Any] = json.loads(self.execution.get("output") or "null")
        return parsed


@pytest.fixture(scope="module")
def workload(local_cloud: LocalCloudInfo, aws: ClientFactory) -> Iterator[Workload]:
    assert local_cloud.database_url is not None
    settings = load_settings(
        region=local_cloud.region,
        bucket=unique("perflab-wl"),
        invocations_table=unique("wl-invocations"),
        runs_table=unique("wl-runs"),
        model_id=unique("tiny-llm"),
        database_url=local_cloud.database_url,
    )
    deployment = deploy(aws, settings, local_cloud.database_url, name=unique("wl"))
    ref = seed(settings, aws("s3"), local_cloud.database_url, ARTIFACT_BYTES, other_models=0)
    yield Workload(
        settings,
        deployment,
        ref,
        ResultsStore(aws("dynamodb"), settings.invocations_table, settings.runs_table),
    )


def run_all(aws: ClientFactory, wl: Workload, runs: list[dict[str, Any]], timeout: float = 240) -> list[Run]:
    """Start every run at once (each through the same path as the API and the CLI), wait for all."""
    requests = [RunRequest.from_input(run, wl.settings) for run in runs]
    started = time.monotonic()
    arns = [start_run(aws, wl.deployment, wl.store, request) for request in requests]
    sfn = aws("stepfunctions")
    with ThreadPoolExecutor(len(arns)) as pool:
        executions = list(pool.map(lambda arn: wait_for_execution(sfn, arn, timeout=timeout), arns))
    wall = time.monotonic() - started
    return [Run(request, execution, wall) for request, execution in zip(requests, executions, strict=True)]


def comparable(summary: dict[str, Any]) -> dict[str, Any]:
    """A summary without the wall time (measured by the Aggregate step, not derivable from records)."""
    return {k: v for k, v in summary.items() if k != "wall_s"}


def test_four_configurations_record_every_invocation(aws: ClientFactory, workload: Workload) -> None:
    wl = workload
    runs = run_all(
        aws,
        wl,
        [
            {
                "compute": c,
                "storage": s,
                "invocations": INVOCATIONS,
                "model_id": wl.ref.model_id,
                "label": "test",
            }
            for c, s in CONFIGURATIONS
        ],
    )
    print(
        f"\nfour configurations x {INVOCATIONS} x {ARTIFACT_BYTES:,} B at once: {runs[0].wall_s:.1f} s wall"
    )
    for run in runs:
        duration = (run.execution["stopDate"] - run.execution["startDate"]).total_seconds()
        print(f"  {run.request.compute}-{run.request.storage}: execution {duration:.1f} s")
    for run in runs:
        request = run.request
        assert run.execution["status"] == "SUCCEEDED", run.execution
        records = wl.store.invocations(request.run_id)
        assert sorted(r.index for r in records) == list(range(INVOCATIONS))
        for record in records:
            assert record.error_type is None, record
            assert record.sha256_ok and record.sha256 == wl.ref.sha256
            assert record.bytes == ARTIFACT_BYTES == record.expected_bytes
            assert (record.compute, record.storage) == (request.compute, request.storage)
            assert (
                record.latency_ms > 0
                and record.ttfb_ms is not None
                and 0 < record.ttfb_ms <= record.latency_ms
            )
            assert record.started_at <= record.finished_at
            assert record.dispatched_at is not None and record.scheduling_delay_ms is not None
            assert record.attempt == 1
            if request.compute == "ecs":
                # one task per invocation: always a cold start; the agent's ECS_TASK_ARN names it
                assert record.cold_start and record.init_ms is not None
                assert record.environment_id.startswith("arn:aws:ecs:") and ":task/" in record.environment_id
            else:
                assert "#" in record.environment_id  # <log stream>#<request id>
                assert (record.init_ms is not None) == record.cold_start
        if request.compute == "ecs":
            assert len({r.environment_id for r in records}) == INVOCATIONS
        else:
            assert len({r.environment_id.split("#")[1] for r in records}) == INVOCATIONS

        stored = (wl.store.get_run(request.run_id) or {}).get("summary")
        assert stored == run.output  # the execution's output is the stored summary
        recomputed = summarize(request, records, stored["wall_s"]).to_json()
        assert comparable(stored) == comparable(recomputed)
        assert stored["status"] == "SUCCEEDED"
        assert stored["invocations"] == {"requested": INVOCATIONS, "succeeded": INVOCATIONS, "failed": 0} | {
            k: v for k, v in stored["invocations"].items() if k not in ("requested", "succeeded", "failed")
        }
        assert stored["sha256_verified"] is True
        assert stored["bytes_total"] == INVOCATIONS * ARTIFACT_BYTES
        assert 0 < stored["wall_s"] < run.wall_s + 1


def test_corrupted_artifact_is_recorded_as_checksum_mismatch(aws: ClientFactory, workload: Workload) -> None:
    wl = workload
    settings = wl.settings.model_copy(update={"model_id": unique("corrupt")})
    ref = seed(settings, aws("s3"), wl.settings.database_url.get_secret_value(), 300_000, other_models=0)  # type: ignore[union-attr]
    s3 = aws("s3")
    body = bytearray(s3.get_object(Bucket=settings.bucket, Key=ref.s3_key)["Body"].read())
    body[len(body) // 2] ^= 0xFF  # same size, one flipped byte
    s3.put_object(Bucket=settings.bucket, Key=ref.s3_key, Body=bytes(body))
    assert hashlib.sha256(body).hexdigest() != ref.sha256

    runs = run_all(
        aws,
        wl,
        [
            {"compute": c, "storage": "s3", "invocations": 3, "model_id": ref.model_id}
            for c in ("lambda", "ecs")
        ],
    )
    for run in runs:
        assert run.execution["status"] == "SUCCEEDED", run.execution
        records = wl.store.invocations(run.request.run_id)
        assert len(records) == 3
        for record in records:
            assert record.error_type == "ChecksumMismatch", record
            assert not record.sha256_ok and record.bytes == len(body)
            assert ref.sha256 in (record.error_message or "")
            assert record.environment_id  # written by the handler, not by the state machine's Catch
        summary = run.output
        assert summary["status"] == "COMPLETED_WITH_FAILURES"
        assert summary["invocations"]["failed"] == 3 and summary["invocations"]["succeeded"] == 0
        assert summary["errors_by_type"] == {"ChecksumMismatch": 3}
        assert summary["sha256_verified"] is False


GOOD_INPUT = {"compute": "lambda", "storage": "s3", "invocations": 1, "model_id": "m", "version": "1"}
BAD_EXECUTION_INPUT = [
    ("unknown compute", {"compute": "gpu"}),
    ("unknown storage", {"storage": "ftp"}),
    ("zero invocations", {"invocations": 0}),
    ("negative invocations", {"invocations": -1}),
    ("invocations above the cap", {"invocations": 1001}),
    ("string invocations", {"invocations": "3"}),
    ("boolean invocations", {"invocations": True}),
    ("no model_id", {"model_id": None}),
    ("no run_id", {"run_id": None}),
    ("zero artifact_bytes", {"artifact_bytes": 0}),
    ("absurd artifact_bytes", {"artifact_bytes": 10**15}),
    ("zero max_concurrency", {"max_concurrency": 0}),
    ("unknown rds_layout", {"rds_layout": "blob"}),
    ("too many range parts", {"s3_range_parts": 17}),
    ("string enable_caching", {"enable_caching": "yes"}),
    ("numeric label", {"label": 5}),
]


@pytest.mark.parametrize(("case", "change"), BAD_EXECUTION_INPUT, ids=[c[0] for c in BAD_EXECUTION_INPUT])
def test_invalid_input_fails_fast_writing_nothing(
    aws: ClientFactory, workload: Workload, case: str, change: dict[str, Any]
) -> None:
    """StartExecution with input the trigger would have refused (someone calling Step Functions
    directly): the Validate state fails the execution before the Map, and nothing is written."""
    run_id = unique("bad")
    data = {k: v for k, v in {**GOOD_INPUT, "run_id": run_id, **change}.items() if v is not None}
    sfn = aws("stepfunctions")
    arn = sfn.start_execution(
        stateMachineArn=workload.deployment.state_machine_arn, name=run_id, input=json.dumps(data)
    )["executionArn"]
    described = wait_for_execution(sfn, arn, timeout=30)
    assert (described["status"], described.get("error")) == ("FAILED", "Perflab.InvalidInput"), case
    assert "compute lambda|ecs" in described.get("cause", "")  # what is allowed
    history = sfn.get_execution_history(executionArn=arn)["events"]
    assert not [e for e in history if e["type"].startswith("Map") or e["type"].startswith("Task")]
    assert workload.store.invocation_items(run_id) == []
    assert workload.store.get_run(run_id) is None


BEYOND_A_CHOICE = [
    ("fractional invocations", {"invocations": 1.5}, "invocations"),
    ("unknown field", {"colour": "red"}, "colour"),
]


@pytest.mark.parametrize(("case", "change", "field"), BEYOND_A_CHOICE, ids=[c[0] for c in BEYOND_A_CHOICE])
def test_input_a_choice_cannot_check_fails_the_run_naming_the_field(
    aws: ClientFactory, workload: Workload, case: str, change: dict[str, Any], field: str
) -> None:
    """What the Validate Choice cannot express (integer-ness, unknown keys) is refused by the handlers'
    RunRequest: the execution FAILS with InvalidRequest naming the field, the run is marked FAILED."""
    run_id = unique("beyond")
    data = {
        **GOOD_INPUT,
        "model_id": workload.ref.model_id,
        "version": workload.ref.version,
        "run_id": run_id,
    }
    sfn = aws("stepfunctions")
    arn = sfn.start_execution(
        stateMachineArn=workload.deployment.state_machine_arn,
        name=run_id,
        input=json.dumps({**data, **change}),
    )["executionArn"]
    described = wait_for_execution(sfn, arn, timeout=120)
    assert (described["status"], described.get("error")) == ("FAILED", "InvalidRequest"), case
    assert f"{field}: " in described.get("cause", "")
    run = workload.store.get_run(run_id) or {}
    assert run.get("status") == "FAILED" and run.get("error") == "InvalidRequest"


def test_unhandled_failure_marks_the_run_failed(aws: ClientFactory, workload: Workload) -> None:
    """Garbage the state machine's Validate lets through (a model id RunRequest rejects): each item
    gets a failure record from the Catch, the Aggregate step fails, RecordFailure marks the run."""
    wl = workload
    run_id = unique("broken")
    wl.store.put_run(
        run_id,
        RunRequest.from_input({"run_id": run_id, "compute": "lambda", "storage": "s3"}, wl.settings),
        "RUNNING",
        time.time(),
    )
    sfn = aws("stepfunctions")
    arn = sfn.start_execution(
        stateMachineArn=wl.deployment.state_machine_arn,
        input=json.dumps(
            {
                "run_id": run_id,
                "compute": "lambda",
                "storage": "s3",
                "invocations": 2,
                "model_id": "not a model id",
                "version": "1.0.0",
            }
        ),
    )["executionArn"]
    described = wait_for_execution(sfn, arn, timeout=120)
    assert described["status"] == "FAILED"
    assert described.get("error") == "InvalidRequest"
    items = wl.store.invocation_items(run_id)
    assert [i["index"] for i in items] == [0, 1]
    assert {i["error_type"] for i in items} == {"InvalidRequest"}
    assert all(i["recorded_by"] == "step-functions" for i in items)
    run = wl.store.get_run(run_id) or {}
    assert run["status"] == "FAILED" and run["error"] == "InvalidRequest" and "model_id" in run["cause"]


def test_deploy_is_idempotent(aws: ClientFactory, workload: Workload, local_cloud: LocalCloudInfo) -> None:
    wl = workload
    lam = aws("lambda")
    # Bring the code up to date first: the package holds every perflab module, edited while tests run.
    first = deploy(aws, wl.settings, local_cloud.database_url, name=wl.deployment.name)
    before = lam.get_function(FunctionName=wl.deployment.download_function)["Configuration"]
    again = deploy(aws, wl.settings, local_cloud.database_url, name=wl.deployment.name)
    assert again == first == wl.deployment  # same state machine, task definition revision, network
    after = lam.get_function(FunctionName=wl.deployment.download_function)["Configuration"]
    assert after["CodeSha256"] == before["CodeSha256"] == code_sha256(package_lambda("download"))
    assert after["LastModified"] == before["LastModified"]
    container = aws("ecs").describe_task_definition(taskDefinition=wl.deployment.task_definition)[
        "taskDefinition"
    ]["containerDefinitions"][0]
    assert container["image"] == TASK_IMAGE
    assert container["command"] == ["python", "-m", "ecs_task"]


def test_package_is_deterministic_and_holds_handler_and_core() -> None:
    import io
    import zipfile

    package = package_lambda("download")
    assert package == package_lambda("download")
    names = zipfile.ZipFile(io.BytesIO(package)).namelist()
    assert "handler.py" in names and "perflab/invocation.py" in names
    assert not [n for n in names if n.startswith("perflab/local/") or "__pycache__" in n]
    assert InvocationResult.__module__ == "perflab.download"


def test_inspect_shows_states_map_run_and_failed_invocations(aws: ClientFactory, workload: Workload) -> None:
    from perflab.deploy import task_log_group
    from perflab.inspect import inspect_run

    runs = [
        {"compute": compute, "storage": "s3", "invocations": 3, "model_id": "no-such-model", "version": "9"}
        for compute in ("lambda", "ecs")
    ]
    for run in run_all(aws, workload, runs):
        lines: list[str] = []
        code = inspect_run(
            aws,
            run.request.run_id,
            runs_table=workload.settings.runs_table,
            invocations_table=workload.settings.invocations_table,
            task_log_group=task_log_group(workload.deployment.name),
            out=lines.append,
        )
        text = "\n".join(lines)
        assert code == 1
        assert (
            f"execution:{workload.deployment.state_machine_arn.split(':')[-1]}:{run.request.run_id}" in text
        )
        assert "Fanout" in text and "Aggregate" in text
        # The Map's items succeed: each failed download was caught and its failure recorded.
        assert "3 items: 3 succeeded, 0 failed" in text
        assert "invocations recorded: 3 (0 ok, 3 failed)" in text
        assert text.count("FAILED #") == 3 and "ArtifactNotFound" in text
        assert "      | " in text  # a log excerpt of the environment that failed
