"""perflab.faults: the fault spec, and that each injected behaviour is the real thing."""

from __future__ import annotations

import json
import subprocess
import sys
from typing import Any

import boto3
import pytest
from botocore.awsrequest import AWSResponse

from perflab import faults
from perflab.download import InvocationResult
from perflab.faults import EXIT_CODE, FaultSpec, InjectedFault
from perflab.results import ResultsStore


def test_spec_parses_name_and_rate() -> None:
    assert FaultSpec.parse("raise") == FaultSpec("raise", 1)
    assert FaultSpec.parse(" kill:3 ") == FaultSpec("kill", 3)
    assert str(FaultSpec("kill", 3)) == "kill:3" and str(FaultSpec("raise")) == "raise"
    assert [i for i in range(7) if FaultSpec("exit", 3).hits(i)] == [0, 3, 6]
    assert FaultSpec("raise").in_handler and not FaultSpec("pg-stop").in_handler


@pytest.mark.parametrize("text", ["meteor", "raise:0", "raise:x", "raise:-1", ""])
def test_bad_spec_names_what_is_allowed(text: str) -> None:
    with pytest.raises(ValueError, match="PERFLAB_INJECT: "):
        FaultSpec.parse(text)


def test_applicability() -> None:
    assert FaultSpec("timeout").applies("lambda", "s3") and not FaultSpec("timeout").applies("ecs", "s3")
    assert FaultSpec("pg-stop").applies("ecs", "rds") and not FaultSpec("pg-stop").applies("ecs", "s3")
    assert FaultSpec("s3-delete").applies("lambda", "s3") and not FaultSpec("s3-delete").applies(
        "lambda", "rds"
    )
    assert all(FaultSpec(name).applies("lambda", "s3") or name.startswith("pg-") for name in faults.FAULTS)


def test_nothing_happens_without_a_deployed_fault(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.delenv(faults.ENV_VAR, raising=False)
    assert faults.active() is None
    faults.before_record(0)
    monkeypatch.setenv(faults.ENV_VAR, "raise:2")
    faults.before_record(1)  # not hit
    monkeypatch.setenv(faults.ENV_VAR, "pg-stop")  # a fault of the environment: nothing in the code
    faults.before_record(0)


def test_raise_raises(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv(faults.ENV_VAR, "raise")
    logged: list[str] = []
    with pytest.raises(InjectedFault, match="PERFLAB_INJECT=raise"):
        faults.before_record(4, logged.append)
    assert logged == ["perflab fault injection: raise (invocation 4)"]


def run_hook(fault: str, **env: str) -> subprocess.CompletedProcess[str]:
    code = "from perflab import faults; faults.before_record(0); print('survived')"
    return subprocess.run(
        [sys.executable, "-c", code],
        env={"PATH": "/usr/bin:/bin", faults.ENV_VAR: fault, **env},
        capture_output=True,
        text=True,
        timeout=60,
    )


def test_exit_and_kill_end_the_process_for_real() -> None:
    exited = run_hook("exit")
    assert exited.returncode == EXIT_CODE and "survived" not in exited.stdout
    killed = run_hook("kill")
    assert killed.returncode == -9 and "survived" not in killed.stdout


def test_memory_really_allocates_until_stopped() -> None:
    """Nothing enforces a limit here: it allocates (and touches) twice the size, then gives up."""
    done = run_hook("memory", AWS_LAMBDA_FUNCTION_MEMORY_SIZE="64")
    assert done.returncode == 1 and "MemoryError: allocated 128 MB" in done.stderr


# --- ddb-throttle, through a real botocore client and the results store ---------------------------


class FakeTable:
    """A DynamoDB table behind botocore's before-call event: conditional puts as DynamoDB does them."""

    def __init__(self) -> None:
        self.items: dict[tuple[str, str], dict[str, Any]] = {}
        self.answers: list[str] = []

    def put_item(self, params: dict[str, Any], **_: Any) -> tuple[AWSResponse, dict[str, Any]]:
        item = json.loads(params["body"])["Item"]
        key = (item["run_id"]["S"], item["index"]["N"])
        if key in self.items:
            self.answers.append("ConditionalCheckFailedException")
            error = {"Code": "ConditionalCheckFailedException", "Message": "The conditional request failed"}
            return AWSResponse("https://t", 400, {}, None), {"Error": error, "Item": self.items[key]}
        self.items[key] = item
        self.answers.append("applied")
        return AWSResponse("https://t", 200, {}, None), {}


def result(index: int) -> InvocationResult:
    return InvocationResult(
        run_id="run-1",
        index=index,
        compute="lambda",
        storage="s3",
        environment_id="env",
        cold_start=False,
        init_ms=None,
        dispatched_at=None,
        attempt=1,
        started_at=1.0,
        finished_at=2.0,
        ttfb_ms=1.0,
        latency_ms=2.0,
        scheduling_delay_ms=None,
        bytes=10,
        sha256_ok=True,
    )


def test_throttled_writes_are_retried_and_recorded_once(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv(faults.ENV_VAR, "ddb-throttle")
    client = boto3.client(
        "dynamodb",
        region_name="us-east-1",
        endpoint_url="http://127.0.0.1:9",
        aws_access_key_id="x",
        aws_secret_access_key="y",
    )
    logged: list[str] = []
    faults.instrument_dynamodb(client, logged.append)
    table = FakeTable()
    client.meta.events.register("before-call.dynamodb.PutItem", table.put_item)  # after the fault's hook
    store = ResultsStore(client, "inv", "runs", sleep=lambda _s: None)

    assert store.put_invocation(result(0)) is True
    assert store.put_invocation(result(1)) is True
    assert len(table.items) == 2
    # per record: two throttles before the table, the write applied but answered 500, then the
    # conditional put that finds the store's own write (write_id): one record, counted once
    assert table.answers == ["applied", "ConditionalCheckFailedException"] * 2
    assert [line.split(": ", 2)[2].split(" ")[0] for line in logged] == [
        "ProvisionedThroughputExceededException",
        "ProvisionedThroughputExceededException",
        "InternalServerError",
    ] * 2
    assert all(item["attempts"] == {"N": "1"} for item in table.items.values())


def test_the_throttle_is_botocores_modelled_exception(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv(faults.ENV_VAR, "ddb-throttle")
    client = boto3.client(
        "dynamodb",
        region_name="us-east-1",
        endpoint_url="http://127.0.0.1:9",
        aws_access_key_id="x",
        aws_secret_access_key="y",
    )
    faults.instrument_dynamodb(client, lambda _m: None)
    item = {"run_id": {"S": "r"}, "index": {"N": "0"}}
    with pytest.raises(client.exceptions.ProvisionedThroughputExceededException):
        client.put_item(TableName="inv", Item=item)
