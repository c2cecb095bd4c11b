"""perflab's API end to end on the local cloud: deploy_api, the stand-in, the api Lambda, DynamoDB, SFN."""

from __future__ import annotations

import json
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path

import pytest
from pydantic import SecretStr

from perflab.config import Settings
from perflab.deploy_api import ROUTE_KEYS, deploy_api
from perflab.local.stack import LocalCloudInfo
from perflab.results import create_tables
from tests.conftest import ClientFactory, unique
from tests.local.helpers import create_lambda_role, create_state_machine
from tests.local.test_apigateway import Answer, request
from tests.local.test_lambda_runtime import build_zip

pytestmark = pytest.mark.local

HANDLER = Path(__file__).resolve().parents[2] / "lambdas" / "api" / "handler.py"
TOKEN = "local-test-token"
PASS_MACHINE = {"StartAt": "Done", "States": {"Done": {"Type": "Pass", "End": True}}}


@dataclass
class Deployed:
    api_id: str
    machine_arn: str
    host: str

    def headers(self, token: str | None = TOKEN, **extra: str) -> dict[str, str]:
        headers = {"Host": self.host, "Content-Type": "application/json", **extra}
        if token is not None:
            headers["Authorization"] = f"Bearer {token}"
        return headers


@pytest.fixture(scope="module")
def deployed(aws: ClientFactory) -> Iterator[Deployed]:
    settings = Settings(
        invocations_table=unique("inv"), runs_table=unique("runs"), api_token=SecretStr(TOKEN)
    )
    create_tables(aws("dynamodb"), settings)
    machine_arn = create_state_machine(aws("stepfunctions"), PASS_MACHINE, "api")
    lam = aws("lambda")
    name = unique("perflab-api")
    function_arn = lam.create_function(
        FunctionName=name,
        Runtime="python3.11",
        Role=create_lambda_role(aws),
        Handler="handler.handler",
        Code={"ZipFile": build_zip({"handler.py": HANDLER.read_text()})},
        Timeout=30,
        Environment={
            "Variables": {
                "PERFLAB_API_TOKEN": TOKEN,
                "PERFLAB_STATE_MACHINE_ARN": machine_arn,
                "PERFLAB_RUNS_TABLE": settings.runs_table,
                "PERFLAB_INVOCATIONS_TABLE": settings.invocations_table,
                "POWERTOOLS_TRACE_DISABLED": "true",
            }
        },
    )["FunctionArn"]
    api_name = unique("perflab-api")
    api_id = deploy_api(aws, settings, function_arn, name=api_name)
    assert deploy_api(aws, settings, function_arn, name=api_name) == api_id  # idempotent
    routes = aws("apigatewayv2").get_routes(ApiId=api_id)["Items"]
    assert sorted(r["RouteKey"] for r in routes) == sorted(ROUTE_KEYS)
    # The Host names the API, as <api-id>.execute-api.<region>.amazonaws.com does on AWS.
    yield Deployed(api_id, machine_arn, f"{api_id}.execute-api.localhost")
    aws("apigatewayv2").delete_api(ApiId=api_id)
    lam.delete_function(FunctionName=name)


def post(info: LocalCloudInfo, deployed: Deployed, body: object, **headers: str) -> Answer:
    token = headers.pop("token", TOKEN)
    return request(
        info,
        "POST",
        "/health/performance/workload",
        json.dumps(body).encode(),
        deployed.headers(token, **headers),
    )


def executions(aws: ClientFactory, machine_arn: str) -> list[str]:
    found = aws("stepfunctions").list_executions(stateMachineArn=machine_arn)["executions"]
    return sorted(e["name"] for e in found)


def test_post_starts_a_run_and_results_show_it(
    local_cloud: LocalCloudInfo, deployed: Deployed, aws: ClientFactory
) -> None:
    answer = post(local_cloud, deployed, {"compute": "lambda", "storage": "s3", "invocations": 2})
    assert answer.status == 202, answer.body
    started = answer.json()
    run_id = started["run_id"]
    assert started["status_url"] == f"http://{deployed.host}/health/performance/results/{run_id}"
    assert run_id in executions(aws, deployed.machine_arn)
    described = aws("stepfunctions").describe_execution(executionArn=started["execution_arn"])
    assert json.loads(described["input"])["invocations"] == 2

    results = request(local_cloud, "GET", f"/health/performance/results/{run_id}", None, deployed.headers())
    assert results.status == 200
    assert results.json() == {"run_id": run_id, "status": "RUNNING", "summary": None}
    runs = request(local_cloud, "GET", "/health/performance/runs?limit=5", None, deployed.headers())
    assert run_id in [r["run_id"] for r in runs.json()["runs"]]


def test_bad_input_and_token_start_nothing(
    local_cloud: LocalCloudInfo, deployed: Deployed, aws: ClientFactory
) -> None:
    before = executions(aws, deployed.machine_arn)
    bad = post(local_cloud, deployed, {"compute": "gpu", "storage": "s3", "invocations": 2})
    assert bad.status == 400 and bad.json()["field"] == "compute"
    no_token = post(local_cloud, deployed, {"compute": "lambda", "storage": "s3"}, token=None)
    assert no_token.status == 401
    wrong = post(local_cloud, deployed, {"compute": "lambda", "storage": "s3"}, token="nope")
    assert wrong.status == 401
    assert executions(aws, deployed.machine_arn) == before


def test_idempotency_key_and_conflict(
    local_cloud: LocalCloudInfo, deployed: Deployed, aws: ClientFactory
) -> None:
    body = {"compute": "ecs", "storage": "rds", "invocations": 1}
    key = unique("key")
    first = post(local_cloud, deployed, body, **{"Idempotency-Key": key})
    second = post(local_cloud, deployed, body, **{"Idempotency-Key": key})
    assert (first.status, second.status) == (202, 200)
    assert first.json()["run_id"] == second.json()["run_id"]
    assert executions(aws, deployed.machine_arn).count(first.json()["run_id"]) == 1
    clash = post(local_cloud, deployed, {**body, "run_id": first.json()["run_id"]})
    assert clash.status == 409 and clash.json()["field"] == "run_id"
