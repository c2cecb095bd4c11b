"""The local Lambda runtime runs deployed zips' handlers for real (tests on the local cloud)."""

from __future__ import annotations

import base64
import io
import json
import textwrap
import threading
import time
import zipfile
from collections.abc import Callable, Iterator
from concurrent.futures import ThreadPoolExecutor
from pathlib import Path
from typing import Any

import pytest

from perflab.local.stack import LocalCloudInfo
from tests.conftest import ClientFactory, unique
from tests.local.helpers import create_lambda_role, create_table, no_retry_client

HANDLER = """
import json, os, time, boto3

PREFIXES = ("AWS_LAMBDA", "LAMBDA_", "_HANDLER", "AWS_EXECUTION", "AWS_ENDPOINT")

def handler(event, context):
    action = event.get("action", "echo")
    print(f"handling {action}")
    if action == "raise":
        raise ValueError("boom from the handler")
    if action == "exit":
        os._exit(3)
    if action == "sleep":
        time.sleep(event["seconds"])
    if action == "allocate":
        hog = bytearray(event["mb"] * 1024 * 1024)
        for i in range(0, len(hog), 4096):
            hog[i] = 1
    if action == "put":
        boto3.client("dynamodb").put_item(
            TableName=event["table"],
            Item={
                "pk": {"S": event["key"]},
                "function": {"S": os.environ["AWS_LAMBDA_FUNCTION_NAME"]},
                "memory": {"S": os.environ["AWS_LAMBDA_FUNCTION_MEMORY_SIZE"]},
                "custom": {"S": os.environ.get("CUSTOM", "")},
                "request_id": {"S": context.aws_request_id},
            },
        )
    if action == "barrier":  # wait until `parties` invocations run at once (a local directory)
        open(os.path.join(event["dir"], context.aws_request_id), "w").close()
        deadline = time.monotonic() + 60
        while len(os.listdir(event["dir"])) < event["parties"] and time.monotonic() < deadline:
            time.sleep(0.05)
    if action == "gate":
        s3 = boto3.client("s3")
        s3.put_object(Bucket=event["bucket"], Key="started", Body=b"1")
        deadline = time.monotonic() + 30
        while time.monotonic() < deadline:
            if s3.list_objects_v2(Bucket=event["bucket"], Prefix="release").get("KeyCount"):
                break
            time.sleep(0.05)
    return {
        "action": action,
        "pid": os.getpid(),
        "stream": context.log_stream_name,
        "remaining_ms": context.get_remaining_time_in_millis(),
        "env": {k: v for k, v in os.environ.items() if k.startswith(PREFIXES)},
    }
"""


def build_zip(files: dict[str, str]) -> bytes:
    buffer = io.BytesIO()
    with zipfile.ZipFile(buffer, "w", zipfile.ZIP_DEFLATED) as archive:
        for name, text in files.items():
            archive.writestr(name, textwrap.dedent(text))
    return buffer.getvalue()


FunctionFactory = Callable[..., str]


@pytest.fixture(scope="module")
def make_function(aws: ClientFactory) -> Iterator[FunctionFactory]:
    """Creates functions from in-memory zips; deletes them (and so their environments) afterwards."""
    lam = aws("lambda")
    role = create_lambda_role(aws)
    created: list[str] = []

    def make(
        files: dict[str, str] | None = None,
        handler: str = "app.handler",
        timeout: int = 10,
        memory: int = 256,
        env: dict[str, str] | None = None,
    ) -> str:
        name = unique("fn")
        lam.create_function(
            FunctionName=name,
            Runtime="python3.11",
            Role=role,
            Handler=handler,
            Code={"ZipFile": build_zip(files or {"app.py": HANDLER})},
            Timeout=timeout,
            MemorySize=memory,
            Environment={"Variables": env or {}},
        )
        created.append(name)
        return name

    yield make
    for name in created:
        lam.delete_function(FunctionName=name)


def invoke(lam: Any, name: str, event: dict[str, Any], **kwargs: Any) -> tuple[dict[str, Any], Any]:
    response = lam.invoke(FunctionName=name, Payload=json.dumps(event).encode(), LogType="Tail", **kwargs)
    return response, json.loads(response["Payload"].read())


def tail_lines(response: dict[str, Any]) -> list[str]:
    return base64.b64decode(response["LogResult"]).decode().splitlines()


def report_line(response: dict[str, Any]) -> str:
    (line,) = [line for line in tail_lines(response) if line.startswith("REPORT RequestId:")]
    return line


def test_handler_runs_and_reaches_the_local_cloud(aws: ClientFactory, make_function: FunctionFactory) -> None:
    table, ddb = create_table(aws, "tbl"), aws("dynamodb")
    name = make_function(env={"CUSTOM": "from-config"}, memory=192)
    response, payload = invoke(aws("lambda"), name, {"action": "put", "table": table, "key": "k1"})
    assert response["StatusCode"] == 200 and "FunctionError" not in response
    item = ddb.get_item(TableName=table, Key={"pk": {"S": "k1"}})["Item"]
    assert item["function"]["S"] == name
    assert item["memory"]["S"] == "192"
    assert item["custom"]["S"] == "from-config"
    env = payload["env"]
    assert env["AWS_LAMBDA_FUNCTION_VERSION"] == "$LATEST"
    assert env["AWS_LAMBDA_LOG_GROUP_NAME"] == f"/aws/lambda/{name}"
    assert env["_HANDLER"] == "app.handler"
    assert env["AWS_EXECUTION_ENV"] == "AWS_Lambda_python3.11"
    assert env["LAMBDA_TASK_ROOT"].endswith(f"/lambda/{name}/" + env["LAMBDA_TASK_ROOT"].rsplit("/", 1)[-1])
    assert env["AWS_ENDPOINT_URL"].startswith("http://127.0.0.1:")
    assert 0 < payload["remaining_ms"] <= 10_000


def test_cold_then_warm_reuses_the_environment(aws: ClientFactory, make_function: FunctionFactory) -> None:
    lam, logs = aws("lambda"), aws("logs")
    name = make_function()
    first, cold = invoke(lam, name, {})
    second, warm = invoke(lam, name, {})
    assert (cold["pid"], cold["stream"]) == (warm["pid"], warm["stream"])
    assert "Init Duration:" in report_line(first)
    assert "Init Duration:" not in report_line(second)
    for response in (first, second):
        assert "\tBilled Duration: " in report_line(response)
        assert "\tMemory Size: 256 MB\tMax Memory Used: " in report_line(response)
        assert "handling echo" in tail_lines(response)
    events = logs.get_log_events(logGroupName=f"/aws/lambda/{name}", logStreamName=cold["stream"])["events"]
    messages = [event["message"] for event in events]
    assert [m.split(" ")[0] for m in messages if m.startswith(("START", "END", "REPORT"))] == [
        "START",
        "END",
        "REPORT",
    ] * 2
    assert messages.count("handling echo") == 2
    assert cold["stream"].split("/")[3].startswith("[$LATEST]")


def test_unhandled_exception_is_aws_shaped(aws: ClientFactory, make_function: FunctionFactory) -> None:
    response, payload = invoke(aws("lambda"), make_function(), {"action": "raise"})
    assert response["FunctionError"] == "Unhandled"
    assert payload["errorType"] == "ValueError"
    assert payload["errorMessage"] == "boom from the handler"
    assert any("app.py" in frame for frame in payload["stackTrace"])


@pytest.mark.parametrize(
    ("handler", "error_type"),
    [("missing_module.handler", "Runtime.ImportModuleError"), ("app.nope", "Runtime.HandlerNotFound")],
)
def test_init_errors(
    aws: ClientFactory, make_function: FunctionFactory, handler: str, error_type: str
) -> None:
    response, payload = invoke(aws("lambda"), make_function(handler=handler), {})
    assert response["FunctionError"] == "Unhandled"
    assert payload["errorType"] == error_type


def test_process_exit_is_runtime_exit_error(aws: ClientFactory, make_function: FunctionFactory) -> None:
    lam = aws("lambda")
    name = make_function()
    response, payload = invoke(lam, name, {"action": "exit"})
    assert response["FunctionError"] == "Unhandled"
    assert payload["errorType"] == "Runtime.ExitError"
    assert payload["errorMessage"].endswith("Runtime exited with error: exit status 3")
    _, after = invoke(lam, name, {})  # a new environment takes over
    assert after["action"] == "echo"


def test_timeout_kills_and_replaces_the_environment(
    aws: ClientFactory, make_function: FunctionFactory
) -> None:
    lam = aws("lambda")
    name = make_function(timeout=1)
    _, before = invoke(lam, name, {})
    started = time.monotonic()
    response, payload = invoke(lam, name, {"action": "sleep", "seconds": 5})
    assert time.monotonic() - started < 4
    assert response["FunctionError"] == "Unhandled"
    assert payload["errorType"] == "Sandbox.Timedout"
    assert payload["errorMessage"].endswith("Task timed out after 1.00 seconds")
    assert "Status: timeout" in report_line(response)
    _, after = invoke(lam, name, {})
    assert after["pid"] != before["pid"]


def test_memory_limit_is_enforced(aws: ClientFactory, make_function: FunctionFactory) -> None:
    lam = aws("lambda")
    name = make_function(memory=256, timeout=20)
    response, payload = invoke(lam, name, {"action": "allocate", "mb": 400})
    assert response["FunctionError"] == "Unhandled"
    assert payload["errorType"] == "Runtime.OutOfMemory"
    response, payload = invoke(lam, name, {"action": "allocate", "mb": 16})
    assert "FunctionError" not in response


def test_reserved_concurrency_throttles(
    aws: ClientFactory, make_function: FunctionFactory, local_cloud: LocalCloudInfo
) -> None:
    lam, s3 = aws("lambda"), aws("s3")
    name = make_function()
    bucket = unique("gate")
    s3.create_bucket(Bucket=bucket)
    lam.put_function_concurrency(FunctionName=name, ReservedConcurrentExecutions=1)
    no_retry = no_retry_client(local_cloud, "lambda")
    results: dict[str, Any] = {}
    first = threading.Thread(
        target=lambda: results.update(first=invoke(lam, name, {"action": "gate", "bucket": bucket}))
    )
    first.start()
    deadline = time.monotonic() + 30
    while not s3.list_objects_v2(Bucket=bucket, Prefix="started").get("KeyCount"):
        assert time.monotonic() < deadline, "first invocation never started"
        time.sleep(0.05)
    with pytest.raises(no_retry.exceptions.TooManyRequestsException) as throttled:
        no_retry.invoke(FunctionName=name, Payload=b"{}")
    error = throttled.value.response
    assert error["ResponseMetadata"]["HTTPStatusCode"] == 429
    assert error["Reason"] == "ReservedFunctionConcurrentInvocationLimitExceeded"
    s3.put_object(Bucket=bucket, Key="release", Body=b"1")
    first.join(timeout=30)
    response, payload = results["first"]
    assert "FunctionError" not in response and payload["action"] == "gate"


def test_one_hundred_concurrent_invocations(
    aws: ClientFactory, make_function: FunctionFactory, tmp_path: Path
) -> None:
    """100 invocations that can only finish once all 100 run at once: 100 cold environments."""
    lam = aws("lambda")
    name = make_function(timeout=90)

    def one(_: int) -> tuple[dict[str, Any], dict[str, Any]]:
        return invoke(lam, name, {"action": "barrier", "dir": str(tmp_path), "parties": 100})

    started = time.monotonic()
    with ThreadPoolExecutor(max_workers=100) as pool:
        results = list(pool.map(one, range(100)))
    wall = time.monotonic() - started
    assert all("FunctionError" not in response for response, _ in results), [p for _, p in results][:3]
    pids = {payload["pid"] for _, payload in results}
    colds = sum("Init Duration:" in report_line(response) for response, _ in results)
    assert len(pids) == 100 and colds == 100
    print(f"100 concurrent invocations: {wall:.1f} s, {len(pids)} environments")
