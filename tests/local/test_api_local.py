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
from perflab.results import ResultsStore, create_tables
from perflab.seed import seed
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
    settings: Settings

    def headers(self, token: str | None = TOKEN, **extra: str) -> dict[str, str]:
        headers = {"Host": self.host, "Content-Type": "application/json", **extra}
        if token is not None:
            headers["Authorization"] = f"Bearer {token}"
        return headers


@pytest.fixture(scope="module")
def deployed(aws: ClientFactory, local_cloud: LocalCloudInfo) -> Iterator[Deployed]:
    settings = Settings(
        invocations_table=unique("inv"),
        runs_table=unique("runs"),
        api_token=SecretStr(TOKEN),
        bucket=unique("api-registry"),
        model_id=unique("tiny-llm"),
    )
    create_tables(aws("dynamodb"), settings)
    # The registry the API checks requests against (metadata.json objects in S3, as perflab seed writes).
    assert local_cloud.database_url is not None
    seed(settings, aws("s3"), local_cloud.database_url, 1000, other_models=0)
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
                "PERFLAB_BUCKET": settings.bucket,
                "PERFLAB_MODEL_ID": settings.model_id,
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
    yield Deployed(api_id, machine_arn, f"{api_id}.execute-api.localhost", settings)
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


REFUSED_REMOTELY = [
    ("unknown compute", {"compute": "gpu", "storage": "s3", "invocations": 2}, {}, 400, "compute"),
    (
        "unknown model",
        {"compute": "lambda", "storage": "s3", "model_id": "no-such-model"},
        {},
        400,
        "model_id",
    ),
    ("unknown version", {"compute": "lambda", "storage": "s3", "version": "9.9.9"}, {}, 400, "version"),
    ("no token", {"compute": "lambda", "storage": "s3"}, {"token": None}, 401, "authorization"),
    ("wrong token", {"compute": "lambda", "storage": "s3"}, {"token": "nope"}, 401, "authorization"),
    (
        "wrong content type",
        {"compute": "lambda", "storage": "s3"},
        {"Content-Type": "text/plain"},
        415,
        "content-type",
    ),
]


@pytest.mark.parametrize(
    ("case", "body", "headers", "status", "field"), REFUSED_REMOTELY, ids=[c[0] for c in REFUSED_REMOTELY]
)
def test_bad_input_and_token_start_nothing(
    local_cloud: LocalCloudInfo,
    deployed: Deployed,
    aws: ClientFactory,
    case: str,
    body: dict[str, object],
    headers: dict[str, str | None],
    status: int,
    field: str,
) -> None:
    """Through API Gateway and the api function: refused, and no execution, no DynamoDB item."""
    before = executions(aws, deployed.machine_arn)
    run_id = unique("refused")
    answer = post(local_cloud, deployed, {**body, "run_id": run_id}, **headers)  # type: ignore[arg-type]
    assert answer.status == status, (case, answer.body)
    assert answer.json()["field"] == field
    assert executions(aws, deployed.machine_arn) == before
    store = ResultsStore(aws("dynamodb"), deployed.settings.invocations_table, deployed.settings.runs_table)
    assert store.get_run(run_id) is None and store.invocation_items(run_id) == []


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
