"""The trigger and results API in-process: HTTP API v2 events in, responses out, fake AWS clients."""

from __future__ import annotations

import base64
import io
import json
from dataclasses import dataclass, field
from typing import Any

import pytest
from botocore.exceptions import ClientError
from pydantic import SecretStr

from perflab.api import MAX_BODY_BYTES, Dependencies, create_app, idempotent_run_id
from perflab.catalog import S3Catalog, metadata_key
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


class FakeS3:
    """The catalogue objects ``perflab seed`` writes: ``models/<id>/<version>/metadata.json``."""

    def __init__(self) -> None:
        self.objects: dict[str, bytes] = {}
        self.fail_with: str | None = None

    def put_metadata(self, model_id: str, version: str, artifact: bool) -> None:
        meta = {"model_id": model_id, "version": version, "artifact": {"size_bytes": 1} if artifact else None}
        self.objects[metadata_key(model_id, version)] = json.dumps(meta).encode()

    def _fail(self, operation: str) -> None:
        if self.fail_with is not None:
            raise ClientError({"Error": {"Code": self.fail_with, "Message": "x"}}, operation)

    def get_object(self, Bucket: str, Key: str) -> dict[str, Any]:
        self._fail("GetObject")
        if Key not in self.objects:
            raise ClientError({"Error": {"Code": "NoSuchKey", "Message": "x"}}, "GetObject")
        return {"Body": io.BytesIO(self.objects[Key])}

    def list_objects_v2(self, Bucket: str, Prefix: str, Delimiter: str, MaxKeys: int) -> dict[str, Any]:
        self._fail("ListObjectsV2")
        prefixes = sorted(
            {
                Prefix + k[len(Prefix) :].split(Delimiter)[0] + Delimiter
                for k in self.objects
                if k.startswith(Prefix)
            }
        )
        return {"CommonPrefixes": [{"Prefix": p} for p in prefixes]}


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
    s3: FakeS3 = field(default_factory=FakeS3)

    def __post_init__(self) -> None:
        # The registry: tiny-llm 1.0.0 can be downloaded; 2.0.0 is registered without an artifact.
        self.s3.put_metadata("tiny-llm", "1.0.0", artifact=True)
        self.s3.put_metadata("tiny-llm", "2.0.0", artifact=False)
        deps = Dependencies(
            settings=lambda: self.settings,
            stepfunctions=lambda: self.sfn,
            results=lambda: self.store,
            state_machine_arn=lambda: MACHINE,
            catalog=lambda: S3Catalog(self.s3, "perflab-artifacts"),
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
JSON = {"content-type": "application/json"}


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
    api.s3.put_metadata("tiny-llm", "2", artifact=True)
    body = {**VALID, "storage": "rds", "run_id": "my-run_1", "rds_layout": "large_object", "version": "2"}
    status, _, answer = api.post(body)
    assert status == 202 and answer["run_id"] == "my-run_1"
    assert api.sfn.started[0]["input"]["rds_layout"] == "large_object"


# --- bad input: every way a POST is refused, one table -------------------------------------------------


@dataclass(frozen=True)
class Refused:
    """A POST the API must refuse: ``status`` naming ``field`` and (in ``error``) what is allowed."""

    case: str
    body: Any = field(default_factory=lambda: dict(VALID))
    status: int = 400
    field_name: str | None = None
    allowed: str = ""
    headers: dict[str, str] = field(default_factory=lambda: {"content-type": "application/json"})
    token: str | None = TOKEN
    base64_body: bool = False
    #: a run that exists before the request (the 409 cases)
    existing: dict[str, Any] | None = None


def _json_with(**changes: Any) -> dict[str, Any]:
    return {k: v for k, v in {**VALID, **changes}.items() if v is not None}


REFUSED = [
    # the request's fields (RunRequest): 400 naming the field and what it allows
    Refused("unknown compute", _json_with(compute="gpu"), field_name="compute", allowed="one of lambda, ecs"),
    Refused("unknown storage", _json_with(storage="ftp"), field_name="storage", allowed="one of s3, rds"),
    Refused("missing compute", _json_with(compute=None), field_name="compute", allowed="required"),
    Refused("zero invocations", _json_with(invocations=0), field_name="invocations", allowed="1 to 1000"),
    Refused(
        "negative invocations", _json_with(invocations=-5), field_name="invocations", allowed="1 to 1000"
    ),
    Refused(
        "fractional invocations", _json_with(invocations=1.5), field_name="invocations", allowed="integer"
    ),
    Refused("string invocations", _json_with(invocations="3"), field_name="invocations", allowed="integer"),
    Refused("boolean invocations", _json_with(invocations=True), field_name="invocations", allowed="integer"),
    Refused(
        "invocations above the cap",
        _json_with(invocations=1001),
        field_name="invocations",
        allowed="1 to 1000",
    ),
    Refused(
        "zero artifact_bytes", _json_with(artifact_bytes=0), field_name="artifact_bytes", allowed="integer"
    ),
    Refused(
        "absurd artifact_bytes",
        _json_with(artifact_bytes=10**15),
        field_name="artifact_bytes",
        allowed="1 to",
    ),
    Refused("unknown field", _json_with(colour="red"), field_name="colour", allowed="known options: run_id"),
    Refused("bad run_id", _json_with(run_id="no spaces!"), field_name="run_id", allowed="matching"),
    Refused("bad model_id", _json_with(model_id="../etc"), field_name="model_id", allowed="matching"),
    Refused(
        "unknown rds_layout",
        _json_with(rds_layout="blob"),
        field_name="rds_layout",
        allowed="chunks, large_object",
    ),
    Refused(
        "too many range parts", _json_with(s3_range_parts=17), field_name="s3_range_parts", allowed="0 to 16"
    ),
    # the model registry (S3 metadata.json objects, as perflab seed writes them)
    Refused(
        "unknown model",
        _json_with(model_id="no-such-model"),
        field_name="model_id",
        allowed="registered model",
    ),
    Refused(
        "unknown version", _json_with(version="9.9.9"), field_name="version", allowed="one of 1.0.0, 2.0.0"
    ),
    Refused(
        "model without an artifact",
        _json_with(version="2.0.0"),
        field_name="model_id",
        allowed="without a stored artifact",
    ),
    # the body
    Refused("truncated JSON", '{"compute": "lambda"', field_name="body", allowed="not valid JSON"),
    Refused("not an object", "[1, 2]", field_name="body", allowed="JSON object"),
    Refused("empty body", "", field_name="body", allowed="not valid JSON"),
    Refused("not UTF-8", b'{"compute": "\xff"}', field_name="body", base64_body=True),
    Refused(
        "over 64 KiB",
        _json_with(label="x" * MAX_BODY_BYTES),
        status=413,
        field_name="body",
        allowed="at most 65536",
    ),
    # the content type
    Refused("text/plain", status=415, field_name="content-type", headers={"content-type": "text/plain"}),
    Refused(
        "form content type",
        status=415,
        field_name="content-type",
        allowed="application/json",
        headers={"content-type": "application/x-www-form-urlencoded"},
    ),
    Refused("no content type", status=415, field_name="content-type", allowed="none given", headers={}),
    # the token (checked first: an invalid body gets 401 too, revealing nothing)
    Refused("no token", {"compute": "gpu"}, status=401, field_name="authorization", token=None),
    Refused("wrong token", {"compute": "gpu"}, status=401, field_name="authorization", token="not-the-token"),
    Refused("token prefix", status=401, field_name="authorization", token=TOKEN[:-1]),
    Refused("token with suffix", status=401, field_name="authorization", token=TOKEN + "x"),
    Refused("empty bearer", status=401, field_name="authorization", token=""),
    Refused(
        "wrong scheme",
        status=401,
        field_name="authorization",
        token=None,
        headers={"content-type": "application/json", "authorization": f"Basic {TOKEN}"},
    ),
    Refused(
        "bare token",
        status=401,
        field_name="authorization",
        token=None,
        headers={"content-type": "application/json", "authorization": TOKEN},
    ),
    # the idempotency key and existing runs
    Refused(
        "empty idempotency key",
        status=400,
        field_name="Idempotency-Key",
        headers={**JSON, "Idempotency-Key": ""},
    ),
    Refused(
        "long idempotency key",
        status=400,
        field_name="Idempotency-Key",
        allowed="1-255 printable",
        headers={**JSON, "Idempotency-Key": "x" * 256},
    ),
    Refused(
        "unprintable idempotency key",
        status=400,
        field_name="Idempotency-Key",
        headers={**JSON, "Idempotency-Key": "a\tb"},
    ),
    Refused(
        "run_id exists",
        _json_with(run_id="taken"),
        status=409,
        field_name="run_id",
        allowed="already exists",
        existing={"run_id": "taken", **VALID},
    ),
    Refused(
        "idempotency key reused with another request",
        _json_with(invocations=4),
        status=409,
        field_name="Idempotency-Key",
        allowed="different request",
        headers={**JSON, "Idempotency-Key": "k2"},
        existing={"run_id": idempotent_run_id("k2"), **VALID},
    ),
]


@pytest.mark.parametrize("bad", REFUSED, ids=[r.case for r in REFUSED])
def test_refused_posts_name_the_field_and_start_nothing(api: Harness, bad: Refused) -> None:
    if bad.existing is not None:
        api.store.runs[bad.existing["run_id"]] = {"status": "RUNNING", "request": bad.existing}
    headers = dict(bad.headers)
    if bad.token is not None:
        headers["authorization"] = f"Bearer {bad.token}"
    body = bad.body if isinstance(bad.body, str | bytes) else json.dumps(bad.body)
    status, response_headers, answer = api.call("POST", WORKLOAD, body, headers, base64_body=bad.base64_body)
    assert status == bad.status, answer
    assert answer["field"] == bad.field_name
    assert bad.allowed in answer["error"]
    if status == 401:
        assert response_headers["www-authenticate"].startswith("Bearer")
        assert TOKEN not in json.dumps(answer)
    api.assert_nothing_happened()


def test_the_registry_unreachable_is_502_and_starts_nothing(api: Harness) -> None:
    api.s3.fail_with = "AccessDenied"
    status, _, answer = api.post(VALID)
    assert status == 502 and "AccessDenied" in answer["error"]
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


def test_content_type_with_charset_is_json(api: Harness) -> None:
    assert api.post(VALID, **{"content-type": "Application/JSON; charset=utf-8"})[0] == 202


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


def post_with_authorizer(api: Harness, verdict: dict[str, Any] | None) -> tuple[int, Any]:
    """POST as API Gateway forwards it after its authorizer (no bearer token: the header is the
    authorizer's, e.g. a SigV4 signature)."""
    headers = {"content-type": "application/json", "authorization": "AWS4-HMAC-SHA256 Credential=AKID/…"}
    event = http_event("POST", WORKLOAD, json.dumps(VALID), headers)
    if verdict is not None:
        event["requestContext"]["authorizer"] = verdict
    response = api.app.resolve(event, LambdaContext())
    return response["statusCode"], json.loads(response["body"])


IAM_VERDICT = {"iam": {"userArn": "arn:aws:iam::123456789012:user/bench", "accountId": "123456789012"}}
JWT_VERDICT = {"jwt": {"claims": {"sub": "bench"}, "scopes": None}}


@pytest.mark.parametrize(
    ("mode", "verdict", "status"),
    [
        ("iam", IAM_VERDICT, 202),
        ("jwt", JWT_VERDICT, 202),
        ("iam", None, 401),  # no authorizer ran: refused even though the API has a token configured
        ("iam", JWT_VERDICT, 401),  # another authorizer's verdict is not this one's
        ("jwt", IAM_VERDICT, 401),
    ],
)
def test_gateway_auth_modes_trust_only_their_authorizer(
    api: Harness, monkeypatch: pytest.MonkeyPatch, mode: str, verdict: dict[str, Any] | None, status: int
) -> None:
    monkeypatch.setenv("PERFLAB_API_AUTH", mode)
    got, answer = post_with_authorizer(api, verdict)
    assert got == status, answer
    if status == 401:
        assert answer["field"] == "authorization" and mode.upper() in answer["error"]
        api.assert_nothing_happened()
    else:
        assert len(api.sfn.started) == 1


def test_token_mode_ignores_an_authorizer_verdict(api: Harness, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.delenv("PERFLAB_API_AUTH", raising=False)
    got, answer = post_with_authorizer(api, IAM_VERDICT)  # a verdict without our token is not enough
    assert got == 401 and answer["field"] == "authorization"
    api.assert_nothing_happened()


def test_unknown_auth_mode_is_a_500_naming_the_allowed_values(
    api: Harness, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setenv("PERFLAB_API_AUTH", "basic")
    got, answer = post_with_authorizer(api, IAM_VERDICT)
    assert got == 500 and "token, iam, jwt" in answer["error"]
    api.assert_nothing_happened()
