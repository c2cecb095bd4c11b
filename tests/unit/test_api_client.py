"""`perflab bench --api-url`'s client: start a run, follow it to a final status, retry what is transient,
surface refusals, and summarise from the records when the execution ended without a summary."""

from __future__ import annotations

import dataclasses
import json
import urllib.request
from typing import Any

import pytest

from perflab.api_client import ApiCallError, ApiClient, follow_run
from perflab.config import RunRequest, Settings
from perflab.download import InvocationResult

BASE = "https://abc123.execute-api.us-east-1.amazonaws.com"


def record(run_id: str, index: int, error: str | None = None) -> dict[str, Any]:
    result = InvocationResult(
        run_id=run_id,
        index=index,
        compute="lambda",
        storage="s3",
        environment_id=f"env-{index}",
        cold_start=True,
        init_ms=150.0,
        dispatched_at=1000.0,
        attempt=1,
        started_at=1000.5,
        finished_at=1001.5,
        ttfb_ms=20.0,
        latency_ms=1000.0 + index,
        scheduling_delay_ms=500.0,
        bytes=0 if error else 24_800_000,
        sha256_ok=error is None,
        error_type=error,
    )
    return {**dataclasses.asdict(result), "recorded_by": "lambda"}  # extra keys are ignored


class FakeApi:
    """Answers from a script: each call pops the next (status, body) for its method."""

    def __init__(self, script: dict[str, list[tuple[int, Any]]]) -> None:
        self.script = script
        self.calls: list[urllib.request.Request] = []

    def __call__(self, request: urllib.request.Request, timeout_s: float) -> tuple[int, bytes]:
        self.calls.append(request)
        status, body = self.script[request.get_method()].pop(0)
        if isinstance(body, Exception):
            raise body
        return status, json.dumps(body).encode()


def client(api: FakeApi) -> ApiClient:
    return ApiClient(BASE + "/", "secret-token", transport=api, sleep=lambda _s: None)


@pytest.fixture
def request_() -> RunRequest:
    return RunRequest.from_input({"compute": "lambda", "storage": "s3", "invocations": 2}, Settings())


def test_start_posts_the_request_with_token_and_idempotency_key(request_: RunRequest) -> None:
    answer = {"run_id": request_.run_id, "execution_arn": "arn:x", "status_url": "u"}
    api = FakeApi({"POST": [(503, {"message": "Service Unavailable"}), (202, answer)]})
    assert client(api).start(request_) == answer
    assert len(api.calls) == 2  # the 503 was retried; the key makes the retry safe
    sent = api.calls[-1]
    assert sent.full_url == BASE + "/health/performance/workload"
    assert sent.get_header("Authorization") == "Bearer secret-token"
    assert sent.get_header("Idempotency-key") == request_.run_id
    assert sent.get_header("Content-type") == "application/json"
    assert json.loads(sent.data or b"") == request_.to_input()


def test_refusals_are_raised_with_the_api_message(request_: RunRequest) -> None:
    body = {"error": "missing or wrong bearer token", "field": "authorization"}
    api = FakeApi({"POST": [(401, body)]})
    with pytest.raises(ApiCallError, match=r"HTTP 401: .*wrong bearer token") as info:
        client(api).start(request_)
    assert info.value.status == 401 and len(api.calls) == 1


def test_follow_polls_until_final_and_returns_the_summary_and_records(request_: RunRequest) -> None:
    run_id = request_.run_id
    summary = {"run_id": run_id, "status": "SUCCEEDED", "invocations": {"requested": 2, "succeeded": 2}}
    api = FakeApi(
        {
            "GET": [
                (200, {"run_id": run_id, "status": "RUNNING", "summary": None, "invocations": []}),
                (502, {"message": "Internal Server Error"}),
                (200, {"run_id": run_id, "status": "RUNNING", "invocations": [record(run_id, 0)]}),
                (
                    200,
                    {
                        "run_id": run_id,
                        "status": "SUCCEEDED",
                        "summary": summary,
                        "invocations": [record(run_id, 0), record(run_id, 1)],
                    },
                ),
            ]
        }
    )
    progress: list[int] = []
    got, records = follow_run(client(api), request_, on_progress=lambda done, _t, _e: progress.append(done))
    assert got == summary
    assert [r.index for r in records] == [0, 1] and records[1].latency_ms == 1001.0
    assert progress == [0, 1, 2]
    assert api.calls[0].full_url == f"{BASE}/health/performance/results/{run_id}?invocations=1"
    assert api.calls[0].get_header("Authorization") is None  # GET needs no token


def test_a_run_that_ended_without_a_summary_is_summarised_from_its_records(request_: RunRequest) -> None:
    run_id = request_.run_id
    final = {
        "run_id": run_id,
        "status": "FAILED",
        "summary": None,
        "invocations": [record(run_id, 0), record(run_id, 1, error="ArtifactNotFound")],
    }
    got, _ = follow_run(client(FakeApi({"GET": [(200, final)]})), request_)
    assert got["status"] == "EXECUTION_FAILED"
    assert got["invocations"]["succeeded"] == 1 and got["invocations"]["failed"] == 1
    assert got["errors_by_type"] == {"ArtifactNotFound": 1}


def test_a_client_timeout_ends_the_wait_with_what_was_recorded(request_: RunRequest) -> None:
    run_id = request_.run_id
    running = {"run_id": run_id, "status": "RUNNING", "invocations": [record(run_id, 0)]}
    ticks = iter([0.0, 5.0, 20.0])  # start, after the first poll, after the second
    api = FakeApi({"GET": [(200, running), (200, running)]})
    got, records = follow_run(client(api), request_, timeout_s=10, clock=lambda: next(ticks))
    assert got["status"] == "EXECUTION_CLIENT_TIMEOUT" and "10 s" in got["execution_error"]
    assert got["invocations"]["missing"] == 1 and len(records) == 1


def test_unreachable_api_is_retried_then_raised(request_: RunRequest) -> None:
    api = FakeApi({"GET": [(0, OSError("connection refused"))] * 5})
    with pytest.raises(OSError, match="connection refused"):
        client(api).results(request_.run_id)
    assert len(api.calls) == 5


def test_iam_mode_signs_every_request_with_sigv4_and_sends_no_token(
    request_: RunRequest, monkeypatch: pytest.MonkeyPatch
) -> None:
    from perflab.api_client import sigv4_signer

    monkeypatch.setenv("AWS_ACCESS_KEY_ID", "AKIDEXAMPLE")
    monkeypatch.setenv("AWS_SECRET_ACCESS_KEY", "wJalrXUtnFEMI/K7MDENG+bPxRfiCYEXAMPLEKEY")
    monkeypatch.delenv("AWS_PROFILE", raising=False)
    answer = {"run_id": request_.run_id, "execution_arn": "arn:x", "status_url": "u"}
    api = FakeApi({"POST": [(202, answer)], "GET": [(200, {"run_id": request_.run_id, "status": "RUNNING"})]})
    signed = ApiClient(BASE, None, transport=api, sleep=lambda _s: None, signer=sigv4_signer("eu-west-1"))
    signed.start(request_)
    signed.results(request_.run_id)
    for sent in api.calls:
        authorization = sent.get_header("Authorization")
        assert authorization.startswith("AWS4-HMAC-SHA256 Credential=AKIDEXAMPLE/")
        assert "/eu-west-1/execute-api/aws4_request" in authorization
        assert sent.get_header("X-amz-date")
    assert "Idempotency-Key".lower() in api.calls[0].get_header("Authorization").lower()  # the key is signed


@pytest.mark.parametrize(("value", "mode"), [(None, "token"), ("IAM", "iam"), ("token", "token")])
def test_api_auth_reads_the_environment(
    monkeypatch: pytest.MonkeyPatch, value: str | None, mode: str
) -> None:
    from perflab.api_client import api_auth

    if value is None:
        monkeypatch.delenv("PERFLAB_API_AUTH", raising=False)
    else:
        monkeypatch.setenv("PERFLAB_API_AUTH", value)
    assert api_auth() == mode


def test_api_auth_names_the_allowed_values(monkeypatch: pytest.MonkeyPatch) -> None:
    from perflab.api_client import api_auth

    monkeypatch.setenv("PERFLAB_API_AUTH", "basic")
    with pytest.raises(ValueError, match=r"PERFLAB_API_AUTH: must be one of token, iam \(got 'basic'\)"):
        api_auth()
