"""The download fan-out ASL: valid JSON, the shape issue 3 asks for, and the renderer's guarantees."""

from __future__ import annotations

import json
import re
from collections.abc import Iterator
from typing import Any

import pytest

from perflab.asl import STATE_MACHINES, RenderError, placeholders, render, render_file

TEMPLATE = (STATE_MACHINES / "download_fanout.asl.json").read_text()
VALUES = {
    "download_function_arn": "arn:aws:lambda:us-east-1:123456789012:function:perflab-download",
    "aggregate_function_arn": "arn:aws:lambda:us-east-1:123456789012:function:perflab-aggregate",
    "cluster_arn": "arn:aws:ecs:us-east-1:123456789012:cluster/perflab",
    "task_definition_arn": "arn:aws:ecs:us-east-1:123456789012:task-definition/perflab-download:1",
    "container_name": "download",
    "subnet_ids": "subnet-1,subnet-2",
    "security_group_ids": "sg-1",
    "assign_public_ip": "DISABLED",
    "invocations_table": "perflab-invocations",
    "runs_table": "perflab-runs",
}
LAMBDA_SERVICE_ERRORS = {
    "Lambda.ServiceException",
    "Lambda.AWSLambdaException",
    "Lambda.SdkClientException",
    "Lambda.ClientExecutionTimeoutException",
}


def states(machine: dict[str, Any]) -> Iterator[tuple[str, dict[str, Any]]]:
    """Every state, nested processors included."""
    for name, state in machine["States"].items():
        yield name, state
        for nested in (state.get("ItemProcessor"), state.get("Iterator"), *state.get("Branches", [])):
            if nested:
                yield from states(nested)


def strings(value: Any) -> Iterator[str]:
    if isinstance(value, str):
        yield value
    elif isinstance(value, dict):
        for key, item in value.items():
            yield key
            yield from strings(item)
    elif isinstance(value, list):
        for item in value:
            yield from strings(item)


def targets(state: dict[str, Any]) -> set[str]:
    found = {state[k] for k in ("Next", "Default") if k in state}
    found |= {c["Next"] for c in state.get("Choices", [])}
    found |= {c["Next"] for c in state.get("Catch", [])}
    return found


@pytest.fixture(scope="module")
def machine() -> dict[str, Any]:
    parsed: dict[str, Any] = json.loads(render(TEMPLATE, VALUES))
    return parsed


def test_template_is_valid_json_with_placeholders_only_inside_strings() -> None:
    parsed = json.loads(TEMPLATE)  # valid JSON as it stands, for Terraform's templatefile() too
    assert "%{" not in TEMPLATE and "$${" not in TEMPLATE  # templatefile() directives / escapes
    in_strings = {name for text in strings(parsed) for name in placeholders(text)}
    assert in_strings == placeholders(TEMPLATE) == set(VALUES)


def test_every_transition_names_a_state_and_every_state_is_reachable(machine: dict[str, Any]) -> None:
    def check(scope: dict[str, Any]) -> None:
        names = set(scope["States"])
        reachable, todo = set(), [scope["StartAt"]]
        while todo:
            name = todo.pop()
            if name in reachable:
                continue
            assert name in names, f"transition to unknown state {name}"
            reachable.add(name)
            todo.extend(targets(scope["States"][name]))
        assert reachable == names
        for state in scope["States"].values():
            if "ItemProcessor" in state:
                check(state["ItemProcessor"])
            ends = state.get("End") or state["Type"] in ("Succeed", "Fail", "Choice")
            assert ends or "Next" in state

    check(machine)


def test_fanout_is_a_distributed_map_with_standard_children(machine: dict[str, Any]) -> None:
    maps = [s for _, s in states(machine) if s["Type"] == "Map"]
    assert len(maps) == 1
    fanout = maps[0]
    assert fanout["ItemProcessor"]["ProcessorConfig"] == {"Mode": "DISTRIBUTED", "ExecutionType": "STANDARD"}
    assert "Iterator" not in fanout and "Parameters" not in fanout  # the modern fields only
    assert fanout["ItemSelector"]["index.$"] == "$$.Map.Item.Value"
    assert fanout["MaxConcurrencyPath"] == "$.max_concurrency"
    assert fanout["ToleratedFailurePercentage"] == 100
    assert fanout["ResultPath"] is None  # per-invocation outputs never reach the execution's state
    assert machine["States"]["DefaultMaxConcurrency"]["Result"] == 100
    indexes = machine["States"]["Indexes"]["Parameters"]["indexes.$"]
    assert indexes == "States.ArrayRange(0, $.fanout.last, 1)"
    assert machine["States"]["PlanFanout"]["Parameters"]["last.$"] == "States.MathAdd($.invocations, -1)"


def test_every_task_has_retry_catch_and_timeout(machine: dict[str, Any]) -> None:
    tasks = {name: s for name, s in states(machine) if s["Type"] == "Task"}
    assert set(tasks) == {
        "InvokeDownload",
        "RunDownloadTask",
        "RecordInvocationFailure",
        "Aggregate",
        "RecordFailure",
    }
    for name, task in tasks.items():
        assert task["Retry"], name
        assert task["Catch"], name
        assert isinstance(task["TimeoutSeconds"], int) and task["TimeoutSeconds"] > 0, name
        for retrier in task["Retry"]:
            assert "States.ALL" not in retrier["ErrorEquals"], f"{name} retries everything"


def test_lambda_retries_follow_aws_guidance(machine: dict[str, Any]) -> None:
    for name in ("InvokeDownload", "Aggregate"):
        task = dict(states(machine))[name]
        assert task["Resource"] == "arn:aws:states:::lambda:invoke"
        service, throttled = task["Retry"]
        assert set(service["ErrorEquals"]) == LAMBDA_SERVICE_ERRORS
        assert (service["IntervalSeconds"], service["MaxAttempts"], service["BackoffRate"]) == (2, 6, 2)
        assert throttled["ErrorEquals"] == ["Lambda.TooManyRequestsException"]
        assert throttled["BackoffRate"] > 1


def test_per_item_choice_routes_to_lambda_and_ecs(machine: dict[str, Any]) -> None:
    child = machine["States"]["Fanout"]["ItemProcessor"]["States"]
    route = {c["StringEquals"]: c["Next"] for c in child["Route"]["Choices"]}
    assert route == {"lambda": "InvokeDownload", "ecs": "RunDownloadTask"}
    invoke = child["InvokeDownload"]["Parameters"]
    assert invoke["FunctionName"] == VALUES["download_function_arn"]
    assert invoke["Payload"]["dispatched_at.$"] == "$$.State.EnteredTime"
    run_task = child["RunDownloadTask"]
    assert run_task["Resource"] == "arn:aws:states:::ecs:runTask.sync"
    assert run_task["Retry"][0]["ErrorEquals"][0] == "ECS.AmazonECSException"
    params = run_task["Parameters"]
    assert params["LaunchType"] == "FARGATE"
    assert params["NetworkConfiguration"]["AwsvpcConfiguration"]["Subnets.$"] == (
        "States.StringSplit('subnet-1,subnet-2', ',')"
    )
    env = {e["Name"] for e in params["Overrides"]["ContainerOverrides"][0]["Environment"]}
    assert {"INDEX", "RUN_ID", "RUN_REQUEST", "DISPATCHED_AT", "MAP_STARTED_AT", "RETRY_COUNT"} <= env


def test_failures_are_recorded_never_dropped(machine: dict[str, Any]) -> None:
    child = machine["States"]["Fanout"]["ItemProcessor"]["States"]
    for name in ("InvokeDownload", "RunDownloadTask"):
        assert child[name]["Catch"] == [
            {"ErrorEquals": ["States.ALL"], "ResultPath": "$.failure", "Next": "RecordInvocationFailure"}
        ]
    record = child["RecordInvocationFailure"]
    assert record["Resource"] == "arn:aws:states:::dynamodb:putItem"
    assert record["Parameters"]["ConditionExpression"] == "attribute_not_exists(run_id)"
    assert record["Catch"][0] == {
        "ErrorEquals": ["DynamoDB.ConditionalCheckFailedException"],
        "ResultPath": None,
        "Next": "AlreadyRecorded",
    }
    top = machine["States"]
    for name in ("Fanout", "Aggregate"):
        assert top[name]["Catch"][0]["Next"] == "RecordFailure"
    assert top["RecordFailure"]["Resource"] == "arn:aws:states:::dynamodb:updateItem"
    assert top["RecordFailure"]["Next"] == "Failed" and top["Failed"]["Type"] == "Fail"
    assert top["Aggregate"]["OutputPath"] == "$.Payload"


def test_rendered_values_are_in_place_and_context_paths_intact(machine: dict[str, Any]) -> None:
    text = json.dumps(machine)
    assert "${" not in text
    assert text.count("$$.") == TEMPLATE.count("$$.") > 0
    assert VALUES["task_definition_arn"] in text


def test_render_rejects_missing_unknown_and_malformed_placeholders() -> None:
    with pytest.raises(RenderError, match=r"no value for placeholder.*runs_table"):
        render(TEMPLATE, {k: v for k, v in VALUES.items() if k != "runs_table"})
    with pytest.raises(RenderError, match=r"unknown placeholder.*bogus"):
        render(TEMPLATE, {**VALUES, "bogus": "x"})
    with pytest.raises(RenderError, match="malformed"):
        render('{"a": "${Not_Snake}"}', {})
    with pytest.raises(RenderError, match="malformed"):
        render('{"a": "${unterminated"}', {})


def test_render_keeps_dollar_escapes_and_json_escapes_values() -> None:
    template = '{"a.$": "$$.Map.Item.Value", "b": "${name}", "c": "$${literal}"}'
    rendered = json.loads(render(template.replace("$${literal}", "$$x"), {"name": 'quote " and \\ slash'}))
    assert rendered == {"a.$": "$$.Map.Item.Value", "b": 'quote " and \\ slash', "c": "$$x"}


def test_render_file_matches_render() -> None:
    assert render_file("download_fanout", VALUES) == render(TEMPLATE, VALUES)
    assert not re.search(r"\$\{", render_file("download_fanout", VALUES))
