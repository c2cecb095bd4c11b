"""Fixtures and checks of the fault suite: a deployed workload, fault runs, and what every run must show.

Every fault run is held to the same promise (:func:`check_accounted`): the execution finished (never
left RUNNING), every requested invocation has exactly one record, succeeded + failed = requested,
every failure carries its error class (one of those the fault may cause) and a message, and the stored
summary is the one the records give.
"""

from __future__ import annotations

import contextlib
import json
import time
from collections.abc import Callable, Iterator, Mapping
from dataclasses import dataclass, field
from typing import Any

import pytest
from pydantic import SecretStr

from perflab.config import RunRequest, Settings, load_settings
from perflab.deploy import Deployment, deploy
from perflab.download import InvocationResult
from perflab.fault_harness import wait_for_records
from perflab.local.stack import LocalCloudInfo
from perflab.results import ResultsStore, summarize
from perflab.runs import start_run
from perflab.seed import seed
from perflab.storage.base import ArtifactRef
from tests.conftest import ClientFactory, unique
from tests.local.helpers import wait_for_execution

ARTIFACT_BYTES = 200_000
TOKEN = "fault-suite-token"


@dataclass
class Workload:
    """perflab deployed into the session's local cloud under its own names, with a seeded model."""

    aws: ClientFactory
    settings: Settings
    database_url: str
    deployment: Deployment
    ref: ArtifactRef
    store: ResultsStore

    def redeploy(self, inject: str | None = None, settings: Settings | None = None) -> None:
        deploy(
            self.aws,
            settings or self.settings,
            self.database_url,
            name=self.deployment.name,
            api_token=TOKEN,
            inject=inject,
        )

    @contextlib.contextmanager
    def injected(self, inject: str, **setting_changes: Any) -> Iterator[None]:
        """The download function and task deployed with ``PERFLAB_INJECT=inject`` for the block."""
        self.redeploy(inject, self.settings.model_copy(update=setting_changes))
        try:
            yield
        finally:
            self.redeploy()

    def seed_model(self, prefix: str, artifact_bytes: int = ARTIFACT_BYTES) -> ArtifactRef:
        """A model of its own (so a test that damages it harms no other test)."""
        settings = self.settings.model_copy(update={"model_id": unique(prefix)})
        return seed(settings, self.aws("s3"), self.database_url, artifact_bytes, other_models=0)


def deploy_workload(aws: ClientFactory, database_url: str, region: str, prefix: str) -> Workload:
    settings = load_settings(
        region=region,
        bucket=unique(f"{prefix}-bucket"),
        invocations_table=unique(f"{prefix}-inv"),
        runs_table=unique(f"{prefix}-runs"),
        model_id=unique("tiny-llm"),
        database_url=database_url,
        api_token=SecretStr(TOKEN),
    )
    deployment = deploy(aws, settings, database_url, name=unique(prefix), api_token=TOKEN)
    ref = seed(settings, aws("s3"), database_url, ARTIFACT_BYTES, other_models=0)
    store = ResultsStore(aws("dynamodb"), settings.invocations_table, settings.runs_table)
    return Workload(aws, settings, database_url, deployment, ref, store)


@pytest.fixture(scope="session")
def workload(local_cloud: LocalCloudInfo, aws: ClientFactory) -> Workload:
    """The fault suite's deployment, against the session stack's PostgreSQL."""
    assert local_cloud.database_url is not None
    return deploy_workload(aws, local_cloud.database_url, local_cloud.region, "faults")


@dataclass
class FaultRun:
    request: RunRequest
    execution: dict[str, Any]
    records: list[InvocationResult]
    items: list[dict[str, Any]]
    summary: dict[str, Any]
    actions: list[str] = field(default_factory=list)

    @property
    def failed(self) -> list[InvocationResult]:
        return [r for r in self.records if not (r.error_type is None and r.sha256_ok)]

    @property
    def succeeded(self) -> list[InvocationResult]:
        return [r for r in self.records if r.error_type is None and r.sha256_ok]

    def describe(self) -> str:
        """One line for the suite's output: what the run recorded."""
        counts = self.summary["invocations"]
        return (
            f"{self.request.compute}-{self.request.storage} {self.request.label}: "
            f"{counts['succeeded']} succeeded + {counts['failed']} failed = {counts['requested']} requested; "
            f"errors {self.summary['errors_by_type']}; execution {self.execution['status']}"
        )


def run_with_fault(
    wl: Workload,
    compute: str,
    storage: str,
    invocations: int,
    *,
    label: str,
    ref: ArtifactRef | None = None,
    mid_run: Callable[[str], None] | None = None,
    after_first_record: bool = True,
    timeout: float = 180,
    **options: Any,
) -> FaultRun:
    """Start a run (the path the API and the CLI take), call ``mid_run(execution_arn)`` once the run
    has written its first record (an observed state, not a guessed delay; at once with
    ``after_first_record=False``), wait for the execution to end."""
    ref = ref or wl.ref
    request = RunRequest.from_input(
        {
            "compute": compute,
            "storage": storage,
            "invocations": invocations,
            "model_id": ref.model_id,
            "version": ref.version,
            "label": label,
            **options,
        },
        wl.settings,
    )
    arn = start_run(wl.aws, wl.deployment, wl.store, request)
    if mid_run is not None:
        if after_first_record:
            wait_for_records(wl.aws, wl.settings.invocations_table, request.run_id, 1, arn, timeout)
        mid_run(arn)
    execution = wait_for_execution(wl.aws("stepfunctions"), arn, timeout=timeout)
    stored = (wl.store.get_run(request.run_id) or {}).get("summary") or {}
    run = FaultRun(
        request,
        execution,
        wl.store.invocations(request.run_id),
        wl.store.invocation_items(request.run_id),
        stored,
    )
    print(f"\n  {run.describe()}")
    return run


def check_accounted(run: FaultRun, errors: Mapping[str, str] | set[str] | frozenset[str]) -> None:
    """The promise of every fault run (module docstring); ``errors`` are the error classes allowed."""
    requested = run.request.invocations
    assert run.execution["status"] == "SUCCEEDED", run.execution  # finished, its summary written
    assert sorted(r.index for r in run.records) == list(range(requested))  # one record each
    assert all(item["attempts"] >= 1 for item in run.items if "attempts" in item)
    counts = run.summary["invocations"]
    assert counts["requested"] == requested
    assert counts["succeeded"] + counts["failed"] == requested and counts["missing"] == 0
    assert counts["succeeded"] == len(run.succeeded) and counts["failed"] == len(run.failed)
    for record in run.failed:
        assert record.error_type in errors, record
        assert record.error_message, record
    assert sum(run.summary["errors_by_type"].values()) == counts["failed"]
    recomputed = summarize(run.request, run.records, run.summary["wall_s"]).to_json()
    assert {k: v for k, v in run.summary.items() if k != "wall_s"} == {
        k: v for k, v in recomputed.items() if k != "wall_s"
    }
    assert run.summary["status"] == ("SUCCEEDED" if not run.failed else "COMPLETED_WITH_FAILURES")


def ecs_exit_code(record: InvocationResult) -> int:
    """The container exit code in the Step Functions cause the failure record carries."""
    cause = json.loads(record.error_message or "{}")
    return int(cause["Containers"][0]["ExitCode"])


def wait_until(check: Callable[[], bool], what: str, timeout: float = 60.0) -> None:
    """Poll an observable condition (an API answer), failing after ``timeout``."""
    deadline = time.monotonic() + timeout
    while not check():
        assert time.monotonic() < deadline, f"never observed: {what}"
        time.sleep(0.1)
