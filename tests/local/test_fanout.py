"""The Foundation's acceptance tests: 100-way Distributed Map fan-outs to real Lambda invocations and
real ECS task processes, each leaving a DynamoDB item as evidence that its code ran."""

from __future__ import annotations

from collections.abc import Iterator

import pytest

from perflab.local.clients import LocalClients
from perflab.local.smoke import SmokeDeployment, deploy, run_fanout
from perflab.local.stack import LocalCloudInfo

N = 100


@pytest.fixture(scope="module")
def clients(local_cloud: LocalCloudInfo) -> LocalClients:
    return LocalClients(local_cloud.endpoint_url, local_cloud.region)


@pytest.fixture(scope="module")
def deployment(clients: LocalClients) -> Iterator[SmokeDeployment]:
    yield deploy(clients, max_concurrency=N)


def children_intervals(clients: LocalClients, execution_arn: str) -> list[tuple[float, float]]:
    sfn = clients("stepfunctions")
    map_run = sfn.list_map_runs(executionArn=execution_arn)["mapRuns"][0]["mapRunArn"]
    children = sfn.list_executions(mapRunArn=map_run, maxResults=1000)["executions"]
    assert len(children) == N
    return [(c["startDate"].timestamp(), c["stopDate"].timestamp()) for c in children]


def max_overlap(intervals: list[tuple[float, float]]) -> int:
    """The largest number of intervals open at one instant."""
    edges = sorted([(start, 1) for start, _ in intervals] + [(stop, -1) for _, stop in intervals])
    open_now = peak = 0
    for _, step in edges:
        open_now += step
        peak = max(peak, open_now)
    return peak


@pytest.mark.parametrize("kind", ["lambda", "ecs-sync", "ecs-token"])
def test_hundred_way_fanout_runs_every_invocation(
    clients: LocalClients, deployment: SmokeDeployment, kind: str
) -> None:
    result = run_fanout(clients, deployment, kind, N, label=f"test-{kind}", timeout_s=240)
    assert result.status == "SUCCEEDED", result.error
    assert sorted(r["index"] for r in result.records) == list(range(N))
    # Real processes ran them: Lambda environments serve one invocation at a time, so 100
    # concurrent invocations need many environments; each ECS task is its own process.
    pids = {r["pid"] for r in result.records}
    if kind == "lambda":
        assert len(pids) > 1
    else:
        assert len(pids) == N
    # The Map ran them concurrently: its child executions (one per item) overlapped in time.
    assert max_overlap(children_intervals(clients, result.execution_arn)) > 1


def test_history_is_readable_with_plain_boto3(clients: LocalClients, deployment: SmokeDeployment) -> None:
    result = run_fanout(clients, deployment, "lambda", 3, label="test-history")
    assert result.status == "SUCCEEDED", result.error
    sfn = clients("stepfunctions")
    events = sfn.get_execution_history(executionArn=result.execution_arn)["events"]
    types = [e["type"] for e in events]
    assert types[0] == "ExecutionStarted"
    assert types[-1] == "ExecutionSucceeded"
    assert "MapRunStarted" in types
    map_runs = sfn.list_map_runs(executionArn=result.execution_arn)["mapRuns"]
    assert len(map_runs) == 1
    described = sfn.describe_map_run(mapRunArn=map_runs[0]["mapRunArn"])
    assert described["status"] == "SUCCEEDED"
    assert described["itemCounts"]["succeeded"] == 3
