"""Billed transitions counted from real histories on the local cloud (perflab.history).

Three small runs of the real ``download_fanout`` state machine, started together: 1 and 3 successful
invocations, and 2 invocations of a model that does not exist (each caught and recorded). The count
comes from the parent's history and each Map Run child's, through the same APIs as on AWS; it must be
positive, grow by 3 per successful invocation (child started + Route + the download Task), and agree
with what the cost model predicts from the ASL for the same records, failures included.
"""

from __future__ import annotations

from collections.abc import Iterator
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass

import pytest

from perflab.config import RunRequest, Settings, load_settings
from perflab.deploy import Deployment, deploy
from perflab.history import count_run_transitions
from perflab.local.stack import LocalCloudInfo
from perflab.report.cost import PARENT_STATES, estimate_transitions
from perflab.results import ResultsStore
from perflab.runs import start_run
from perflab.seed import seed
from tests.conftest import ClientFactory, unique
from tests.local.helpers import wait_for_execution

pytestmark = pytest.mark.local


@dataclass
class Workload:
    settings: Settings
    deployment: Deployment
    model_id: str
    store: ResultsStore


@pytest.fixture(scope="module")
def workload(local_cloud: LocalCloudInfo, aws: ClientFactory) -> Iterator[Workload]:
    assert local_cloud.database_url is not None
    settings = load_settings(
        region=local_cloud.region,
        bucket=unique("perflab-tr"),
        invocations_table=unique("tr-invocations"),
        runs_table=unique("tr-runs"),
        model_id=unique("tiny-llm"),
        database_url=local_cloud.database_url,
    )
    deployment = deploy(aws, settings, local_cloud.database_url, name=unique("tr"))
    ref = seed(settings, aws("s3"), local_cloud.database_url, 200_000, other_models=0)
    store = ResultsStore(aws("dynamodb"), settings.invocations_table, settings.runs_table)
    yield Workload(settings, deployment, ref.model_id, store)


def test_counted_transitions_grow_with_invocations_and_match_the_model(
    aws: ClientFactory, workload: Workload
) -> None:
    wl = workload
    inputs = [
        {"compute": "lambda", "storage": "rds", "invocations": 1, "model_id": wl.model_id},
        {"compute": "lambda", "storage": "rds", "invocations": 3, "model_id": wl.model_id},
        {
            "compute": "lambda",
            "storage": "rds",
            "invocations": 2,
            "model_id": "no-such-model",
            "version": "9",
        },
    ]
    requests = [RunRequest.from_input(i, wl.settings) for i in inputs]
    arns = [start_run(aws, wl.deployment, wl.store, request) for request in requests]
    sfn = aws("stepfunctions")
    with ThreadPoolExecutor(len(arns)) as pool:
        executions = list(pool.map(lambda arn: wait_for_execution(sfn, arn, timeout=180), arns))
    assert [e["status"] for e in executions] == ["SUCCEEDED"] * 3, executions

    counted = [count_run_transitions(sfn, arn) for arn in arns]
    one, three, failed = counted
    for request, count in zip(requests, counted, strict=True):
        assert count.total > 0
        assert count.child_executions == request.invocations  # one child per invocation, all listed
        assert count.parent.states_entered == PARENT_STATES  # Validate … Done, nothing retried here
        rows = [record.to_row() for record in wl.store.invocations(request.run_id)]
        assert len(rows) == request.invocations
        run = {"invocations": {"requested": request.invocations}}
        assert count.total == estimate_transitions(run, rows), (request.run_id, count, rows)
    assert three.total - one.total == 2 * 3  # each extra successful invocation: child + Route + Task
    assert one.total == PARENT_STATES + 3
    # A caught failure also enters RecordInvocationFailure and AlreadyRecorded: 5 per child.
    assert failed.children.states_entered == 2 * 4 and failed.total == PARENT_STATES + 2 * 5
