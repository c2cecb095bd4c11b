"""The trigger and results API in-process: HTTP API v2 events in, responses out, fake AWS clients."""

from __future__ import annotations

import base64
import json
from dataclasses import dataclass, field
from typing import Any

import pytest
from botocore.exceptions import ClientError
from pydantic import SecretStr

from perflab.api import MAX_BODY_BYTES, Dependencies, create_app, idempotent_run_id
from perflab.config import RunRequest, Settings

TOKEN = "s3cret-token-for-tests"
MACHINE = "arn:aws:states:us-east-1:123456789012:stateMachine:perflab-download-fanout"
WORKLOAD = "/health/performance/workload"
HOST = "api.example.test"


class FakeStepFunctions:
    def __init__(self) -> None:
        self.started: list[dict[str, Any]] = []
        self.fail_with: str | None = None
        self.described: dict[str, str] = {}

    def start_execution(self, stateMachineArn: str, name: str, input: str) -> dict[str, Any]:
        if self.fail_with is not None:
            raise ClientError({"Error": {"Code": self.fail_with, "Message": "x"}}, "StartExecution")
        self.started.append({"stateMachineArn": stateMachineArn, "name": name, "input": json.loads(input)})
        machine = stateMachineArn.rsplit(":", 1)[1]
        return {"executionArn": f"arn:aws:states:us-east-1:123456789012:execution:{machine}:{name}"}

    def describe_execution(self, executionArn: str) -> dict[str, Any]:
        return {"executionArn": executionArn, "status": self.described.get(executionArn, "RUNNING")}


@dataclass
class FakeRecord:
    run_id: str
    index: int
    latency_ms: float


@dataclass
class FakeStore:
    runs: dict[str, dict[str, Any]] = field(default_factory=dict)
    puts: list[tuple[str, str]] = field(default_factory=list)
    records: dict[str, list[FakeRecord]] = field(default_factory=dict)
    limits: list[int] = field(default_factory=list)

    def put_run(
        self,
        run_id: str,
        request: RunRequest,
        status: str = "RUNNING",
        started_at: float | None = None,
        execution_arn: str | None = None,
    ) -> None:
        self.puts.append((run_id, status))
        self.runs[run_id] = {
            "run_id": run_id,
            "status": status,
            "request": request.to_input(),
            "execution_arn": execution_arn,
            "summary": None,
        }

    def set_status(self, run_id: str, status: str, error: str | None = None) -> None:
        self.puts.append((run_id, status))
        self.runs[run_id].update(status=status, error=error)

    def get_run(self, run_id: str) -> dict[str, Any] | None:
        return self.runs.get(run_id)

    def list_runs(self, limit: int) -> list[dict[str, Any]]:
        self.limits.append(limit)
        return list(self.runs.values())[:limit]

    def invocations(self, run_id: str) -> list[Any]:
        return self.records.get(run_id, [])


@dataclass
class Harness:
    sfn: FakeStepFunctions
    store: FakeStore
    settings: Settings

    def __post_init__(self) -> None:
        deps = Dependencies(
            settings=lambda: self.settings,
            stepfunctions=lambda: self.sfn,
            results=lambda: self.store,
            state_machine_arn=lambda: MACHINE,
        )
        self.app = create_app(deps)

    def call(
        self,
        method: str,
        path: str,
        body: str | bytes | None = None,
        headers: dict[str, str] | None = None,
        query: dict[str, str] | None = None,
        base64_body: bool = False,
    ) -> tuple[int, dict[str, str], Any]:
        event = http_event(method, path, body, headers, query, base64_body)
        response = self.app.resolve(event, LambdaContext())
        text = response.get("body") or ""
        if response.get("isBase64Encoded"):
            text = base64.b64decode(text).decode()
        payload = json.loads(text) if text else None
        return response["statusCode"], {k.lower(): v for k, v in response["headers"].items()}, payload

    def post(self, body: Any, token: str | None = TOKEN, **headers: str) -> tuple[int, dict[str, str], Any]:
        all_headers = {"content-type": "application/json", **headers}
        if token is not None:
            all_headers["authorization"] = f"Bearer {token}"
        text = body if isinstance(body, str | bytes) else json.dumps(body)
        # API Gateway base64-encodes bodies that are not text.
        return self.call("POST", WORKLOAD, text, all_headers, base64_body=isinstance(body, bytes))

    def assert_nothing_happened(self) -> None:
        assert self.sfn.started == []
        assert self.store.puts == []


class LambdaContext:
    function_name = "perflab-api"
    aws_request_id = "req-1"


def http_event(
    method: str,
    path: str,
    body: str | bytes | None = None,
    headers: dict[str, str] | None = None,
    query: dict[str, str] | None = None,
    base64_body: bool = False,
) -> dict[str, Any]:
    """An API Gateway HTTP API payload-format-2.0 event."""
    all_headers = {"host": HOST, "x-forwarded-proto": "https", **(headers or {})}
    event: dict[str, Any] = {
        "version": "2.0",
        "routeKey": "$default",
        "rawPath": path,
        "rawQueryString": "&".join(f"{k}={v}" for k, v in (query or {}).items()),
        "headers": {k.lower(): v for k, v in all_headers.items()},
        "requestContext": {
            "accountId": "123456789012",
            "apiId": "api1",
            "domainName": HOST,
            "http": {"method": method, "path": path, "protocol": "HTTP/1.1", "sourceIp": "127.0.0.1"},
            "requestId": "r1",
            "routeKey": "$default",
            "stage": "$default",
            "timeEpoch": 0,
        },
        "isBase64Encoded": base64_body,
    }
    if query:
        event["queryStringParameters"] = query
    if body is not None:
        raw = body.encode() if isinstance(body, str) else body
        event["body"] = base64.b64encode(raw).decode() if base64_body else raw.decode()
    return event


@pytest.fixture
def api() -> Harness:
    return Harness(FakeStepFunctions(), FakeStore(), Settings(api_token=SecretStr(TOKEN)))


VALID = {"compute": "lambda", "storage": "s3", "invocations": 3}


def test_post_starts_an_execution_named_after_the_run(api: Harness) -> None:
    status, headers, body = api.post({**VALID, "artifact_bytes": 1024, "label": "smoke"})
    assert status == 202
    run_id = body["run_id"]
    assert run_id.startswith("run-")
    assert body["execution_arn"] == f"{MACHINE.replace(':stateMachine:', ':execution:')}:{run_id}"
    assert body["status_url"] == f"https://{HOST}/health/performance/results/{run_id}"
    assert headers["location"] == body["status_url"]
    (started,) = api.sfn.started
    assert started["name"] == run_id and started["stateMachineArn"] == MACHINE
    assert started["input"]["compute"] == "lambda" and started["input"]["invocations"] == 3
    assert started["input"]["artifact_bytes"] == 1024 and started["input"]["label"] == "smoke"
    assert RunRequest.from_input(started["input"]).run_id == run_id
    assert api.store.puts == [(run_id, "RUNNING")]


def test_post_keeps_an_explicit_run_id_and_run_options(api: Harness) -> None:
    body = {**VALID, "storage": "rds", "run_id": "my-run_1", "rds_layout": "large_object", "version": "2"}
    status, _, answer = api.post(body)
    assert status == 202 and answer["run_id"] == "my-run_1"
    assert api.sfn.started[0]["input"]["rds_layout"] == "large_object"


BAD_INPUT = [
    ("unknown compute", {**VALID, "compute": "gpu"}, "compute", "one of lambda, ecs"),
    ("unknown storage", {**VALID, "storage": "ftp"}, "storage", "one of s3, rds"),
    ("missing compute", {"storage": "s3"}, "compute", "required"),
    ("zero invocations", {**VALID, "invocations": 0}, "invocations", "1 to 1000"),
    ("negative invocations", {**VALID, "invocations": -5}, "invocations", "1 to 1000"),
    ("fractional invocations", {**VALID, "invocations": 1.5}, "invocations", "integer"),
    ("string invocations", {**VALID, "invocations": "3"}, "invocations", "integer"),
    ("boolean invocations", {**VALID, "invocations": True}, "invocations", "integer"),
    ("invocations above the cap", {**VALID, "invocations": 1001}, "invocations", "1 to 1000"),
    ("zero artifact_bytes", {**VALID, "artifact_bytes": 0}, "artifact_bytes", "integer"),
    ("absurd artifact_bytes", {**VALID, "artifact_bytes": 10**15}, "artifact_bytes", "integer"),
    ("unknown field", {**VALID, "colour": "red"}, "colour", "known options"),
    ("bad run_id", {**VALID, "run_id": "no spaces!"}, "run_id", "matching"),
    ("bad model_id", {**VALID, "model_id": "../etc"}, "model_id", "matching"),
    ("unknown rds_layout", {**VALID, "rds_layout": "blob"}, "rds_layout", "chunks, large_object"),
    ("too many range parts", {**VALID, "s3_range_parts": 17}, "s3_range_parts", "0 to 16"),
]


@pytest.mark.parametrize(("case", "body", "field_name", "allowed"), BAD_INPUT, ids=[c[0] for c in BAD_INPUT])
def test_bad_input_is_400_naming_the_field(
    api: Harness, case: str, body: dict[str, Any], field_name: str, allowed: str
) -> None:
    status, _, answer = api.post(body)
    assert status == 400, case
    assert answer["field"] == field_name
    assert allowed in answer["error"]
    api.assert_nothing_happened()


MALFORMED = [
    ("truncated JSON", '{"compute": "lambda"', 400, "body"),
    ("not an object", "[1, 2]", 400, "body"),
    ("empty body", "", 400, "body"),
    ("not UTF-8", b'{"compute": "\xff"}', 400, "body"),
    ("over 64 KiB", json.dumps({**VALID, "label": "x" * MAX_BODY_BYTES}), 413, "body"),
]


@pytest.mark.parametrize(("case", "body", "status", "field_name"), MALFORMED, ids=[c[0] for c in MALFORMED])
def test_malformed_bodies(api: Harness, case: str, body: str | bytes, status: int, field_name: str) -> None:
    got, _, answer = api.post(body)
    assert (got, answer["field"]) == (status, field_name), case
    assert answer["error"]
    api.assert_nothing_happened()


def test_a_body_of_exactly_64_kib_is_accepted(api: Harness) -> None:
    text = json.dumps({**VALID, "label": "x"})
    padded = text[:-1] + " " * (MAX_BODY_BYTES - len(text)) + "}"
    assert len(padded) == MAX_BODY_BYTES
    assert api.post(padded)[0] == 202


def test_base64_encoded_body_is_decoded(api: Harness) -> None:
    headers = {"content-type": "application/json", "authorization": f"Bearer {TOKEN}"}
    status, _, _ = api.call("POST", WORKLOAD, json.dumps(VALID), headers, base64_body=True)
    assert status == 202


@pytest.mark.parametrize("content_type", ["text/plain", "application/x-www-form-urlencoded", None])
def test_wrong_content_type_is_415(api: Harness, content_type: str | None) -> None:
    headers = {"authorization": f"Bearer {TOKEN}"}
    if content_type is not None:
        headers["content-type"] = content_type
    status, _, answer = api.call("POST", WORKLOAD, json.dumps(VALID), headers)
    assert status == 415 and answer["field"] == "content-type"
    api.assert_nothing_happened()


def test_content_type_with_charset_is_json(api: Harness) -> None:
    assert api.post(VALID, **{"content-type": "Application/JSON; charset=utf-8"})[0] == 202


AUTH = [
    ("no header", None),
    ("wrong token", "Bearer not-the-token"),
    ("token prefix", f"Bearer {TOKEN[:-1]}"),
    ("token with suffix", f"Bearer {TOKEN}x"),
    ("wrong scheme", f"Basic {TOKEN}"),
    ("bare token", TOKEN),
    ("empty bearer", "Bearer "),
]


@pytest.mark.parametrize(("case", "header"), AUTH, ids=[c[0] for c in AUTH])
def test_missing_or_wrong_token_is_401(api: Harness, case: str, header: str | None) -> None:
    headers = {"content-type": "application/json"}
    if header is not None:
        headers["authorization"] = header
    # Even an invalid body gets 401 first: nothing about the request is revealed without the token.
    status, response_headers, answer = api.call("POST", WORKLOAD, '{"compute": "gpu"}', headers)
    assert status == 401, case
    assert answer["field"] == "authorization"
    assert response_headers["www-authenticate"].startswith("Bearer")
    assert TOKEN not in json.dumps(answer)
    api.assert_nothing_happened()


def test_bearer_scheme_is_case_insensitive(api: Harness) -> None:
    headers = {"content-type": "application/json", "authorization": f"bearer {TOKEN}"}
    assert api.call("POST", WORKLOAD, json.dumps(VALID), headers)[0] == 202


def test_no_configured_token_refuses_every_post() -> None:
    api = Harness(FakeStepFunctions(), FakeStore(), Settings(api_token=None))
    for token in (None, "", "None"):
        status, _, answer = api.post(VALID, token=token)
        assert status == 401 and "PERFLAB_API_TOKEN" in answer["error"]
    api.assert_nothing_happened()


def test_existing_run_id_is_409(api: Harness) -> None:
    assert api.post({**VALID, "run_id": "taken"})[0] == 202
    status, _, answer = api.post({**VALID, "run_id": "taken"})
    assert status == 409 and answer["field"] == "run_id"
    assert len(api.sfn.started) == 1 and len(api.store.puts) == 1


def test_same_idempotency_key_returns_the_existing_run(api: Harness) -> None:
    first_status, _, first = api.post(VALID, **{"Idempotency-Key": "abc-123"})
    second_status, headers, second = api.post(VALID, **{"Idempotency-Key": "abc-123"})
    assert (first_status, second_status) == (202, 200)
    assert headers["idempotent-replayed"] == "true"
    assert first["run_id"] == second["run_id"] == idempotent_run_id("abc-123")
    assert first["execution_arn"] == second["execution_arn"]
    assert first["status_url"] == second["status_url"]
    assert len(api.sfn.started) == 1 and len(api.store.puts) == 1


def test_idempotency_key_with_explicit_run_id(api: Harness) -> None:
    body = {**VALID, "run_id": "keyed"}
    assert api.post(body, **{"Idempotency-Key": "k"})[0] == 202
    assert api.post(body, **{"Idempotency-Key": "k"})[0] == 200
    assert api.post(body)[0] == 409  # without the key it is a clash, not a replay
    assert len(api.sfn.started) == 1


def test_different_keys_start_different_runs(api: Harness) -> None:
    a = api.post(VALID, **{"Idempotency-Key": "one"})[2]["run_id"]
    b = api.post(VALID, **{"Idempotency-Key": "two"})[2]["run_id"]
    assert a != b and len(api.sfn.started) == 2


def test_same_key_with_a_different_request_is_409(api: Harness) -> None:
    assert api.post(VALID, **{"Idempotency-Key": "k2"})[0] == 202
    status, _, answer = api.post({**VALID, "invocations": 4}, **{"Idempotency-Key": "k2"})
    assert status == 409 and answer["field"] == "Idempotency-Key"
    assert len(api.sfn.started) == 1


@pytest.mark.parametrize("key", ["", "x" * 256, "tab\there"])
def test_bad_idempotency_key_is_400(api: Harness, key: str) -> None:
    status, _, answer = api.post(VALID, **{"Idempotency-Key": key})
    assert status == 400 and answer["field"] == "Idempotency-Key"
    api.assert_nothing_happened()


@pytest.mark.parametrize(("key", "status"), [("racing", 200), (None, 409)])
def test_lost_start_execution_race(api: Harness, key: str | None, status: int) -> None:
    """Step Functions refuses a second execution of the same name: with a key that is a replay."""
    api.sfn.fail_with = "ExecutionAlreadyExists"
    headers = {"Idempotency-Key": key} if key else {}
    got, _, answer = api.post({**VALID, "run_id": "raced"}, **headers)
    assert got == status
    if key:
        assert answer["run_id"] == "raced"


def test_failed_start_is_502_and_recorded(api: Harness) -> None:
    api.sfn.fail_with = "StateMachineDoesNotExist"
    status, _, answer = api.post({**VALID, "run_id": "doomed"})
    assert status == 502 and "StateMachineDoesNotExist" in answer["error"]
    assert api.store.puts == [("doomed", "RUNNING"), ("doomed", "FAILED")]


def test_results_of_a_finished_run(api: Harness) -> None:
    summary = {"invocations": {"requested": 2, "succeeded": 2, "failed": 0}, "latency_ms": {"p99": 12.5}}
    api.store.runs["r1"] = {"run_id": "r1", "status": "SUCCEEDED", "summary": summary}
    api.store.records["r1"] = [FakeRecord("r1", 0, 10.0), FakeRecord("r1", 1, 12.5)]
    status, _, body = api.call("GET", "/health/performance/results/r1")
    assert status == 200
    assert body == {"run_id": "r1", "status": "SUCCEEDED", "summary": summary}
    status, _, body = api.call("GET", "/health/performance/results/r1", query={"invocations": "1"})
    assert status == 200
    assert body["invocations"] == [
        {"run_id": "r1", "index": 0, "latency_ms": 10.0},
        {"run_id": "r1", "index": 1, "latency_ms": 12.5},
    ]


def test_results_report_a_failed_execution_the_store_has_not_seen(api: Harness) -> None:
    api.store.runs["r2"] = {"run_id": "r2", "status": "RUNNING"}
    assert api.call("GET", "/health/performance/results/r2")[2]["status"] == "RUNNING"
    api.sfn.described[f"{MACHINE.replace(':stateMachine:', ':execution:')}:r2"] = "FAILED"
    assert api.call("GET", "/health/performance/results/r2")[2]["status"] == "FAILED"


def test_results_bad_invocations_flag_and_unknown_run(api: Harness) -> None:
    api.store.runs["r3"] = {"run_id": "r3", "status": "SUCCEEDED"}
    status, _, body = api.call("GET", "/health/performance/results/r3", query={"invocations": "yes"})
    assert (status, body["field"]) == (400, "invocations")
    status, _, body = api.call("GET", "/health/performance/results/nope")
    assert (status, body["field"]) == (404, "run_id")


def test_list_runs(api: Harness) -> None:
    for i in range(3):
        api.store.runs[f"r{i}"] = {"run_id": f"r{i}", "status": "SUCCEEDED"}
    status, _, body = api.call("GET", "/health/performance/runs")
    assert status == 200 and [r["run_id"] for r in body["runs"]] == ["r0", "r1", "r2"]
    status, _, body = api.call("GET", "/health/performance/runs", query={"limit": "2"})
    assert status == 200 and len(body["runs"]) == 2
    assert api.store.limits == [20, 2]


@pytest.mark.parametrize("limit", ["0", "101", "ten", "-1"])
def test_list_runs_bad_limit(api: Harness, limit: str) -> None:
    status, _, body = api.call("GET", "/health/performance/runs", query={"limit": limit})
    assert (status, body["field"]) == (400, "limit")


@pytest.mark.parametrize(
    ("method", "path"), [("GET", "/nope"), ("DELETE", WORKLOAD), ("GET", "/health/performance/results")]
)
def test_unknown_route_is_404(api: Harness, method: str, path: str) -> None:
    status, _, body = api.call(method, path)
    assert status == 404 and "no route" in body["error"]


def test_get_needs_no_token(api: Harness) -> None:
    assert api.call("GET", "/health/performance/runs")[0] == 200


def test_lambda_handler_is_the_app() -> None:
    from lambdas.api import handler
    from perflab import api as api_module

    assert handler.app is api_module.app
