"""ResultsStore against the local cloud's DynamoDB: tables, first-write-wins, retries, pagination, runs."""

from __future__ import annotations

import json
import time
from datetime import UTC, datetime
from typing import Any

import pytest
from botocore.exceptions import ClientError

from perflab import aggregate as aggregate_module
from perflab.config import RunRequest, Settings, load_settings
from perflab.download import InvocationResult
from perflab.results import COMPLETED_WITH_FAILURES, SUCCEEDED, ResultsStore, RunSummary, create_tables
from tests.conftest import ClientFactory, unique

pytestmark = pytest.mark.local


@pytest.fixture(scope="module")
def settings() -> Settings:
    return load_settings(invocations_table=unique("inv"), runs_table=unique("runs"))


@pytest.fixture(scope="module")
def ddb(aws: ClientFactory, settings: Settings) -> Any:
    client = aws("dynamodb")
    create_tables(client, settings)
    return client


@pytest.fixture
def store(ddb: Any, settings: Settings) -> ResultsStore:
    return ResultsStore(ddb, settings.invocations_table, settings.runs_table)


def record(run_id: str, index: int, **changes: Any) -> InvocationResult:
    values: dict[str, Any] = {
        "run_id": run_id,
        "index": index,
        "compute": "ecs",
        "storage": "rds",
        "environment_id": f"arn:aws:ecs:us-east-1:000000000000:task/c/{index}",
        "cold_start": index == 0,
        "init_ms": 250.5 if index == 0 else None,
        "dispatched_at": 1_700_000_000.125,
        "attempt": 1,
        "started_at": 1_700_000_000.5 + index,
        "finished_at": 1_700_000_001.75 + index,
        "ttfb_ms": 3.25,
        "latency_ms": 1250.0 + index / 3,
        "scheduling_delay_ms": 375.0,
        "bytes": 1_000_000,
        "sha256_ok": True,
    }
    values.update(changes)
    return InvocationResult(**values)


class Flaky:
    """A DynamoDB client whose chosen operation fails with throttling: before or after really running."""

    def __init__(self, client: Any, operation: str, failures: int, after: bool = False) -> None:
        self.client = client
        self.operation = operation
        self.failures = failures
        self.after = after
        self.calls = 0

    def __getattr__(self, name: str) -> Any:
        real = getattr(self.client, name)
        if name != self.operation:
            return real

        def call(**kwargs: Any) -> Any:
            self.calls += 1
            if self.failures > 0:
                self.failures -= 1
                if self.after:
                    real(**kwargs)  # the write happened; only its reply is lost
                raise ClientError(
                    {"Error": {"Code": "ThrottlingException", "Message": "Rate exceeded"}}, name.title()
                )
            return real(**kwargs)

        return call


def raw_item(ddb: Any, settings: Settings, run_id: str, index: int) -> dict[str, Any]:
    item: dict[str, Any] = ddb.get_item(
        TableName=settings.invocations_table,
        Key={"run_id": {"S": run_id}, "index": {"N": str(index)}},
        ConsistentRead=True,
    )["Item"]
    return item


def count(ddb: Any, settings: Settings, run_id: str) -> int:
    return int(
        ddb.query(
            TableName=settings.invocations_table,
            KeyConditionExpression="run_id = :r",
            ExpressionAttributeValues={":r": {"S": run_id}},
            Select="COUNT",
        )["Count"]
    )


def test_create_tables_is_idempotent_pay_per_request(ddb: Any, settings: Settings) -> None:
    create_tables(ddb, settings)  # second time: nothing to do
    inv = ddb.describe_table(TableName=settings.invocations_table)["Table"]
    runs = ddb.describe_table(TableName=settings.runs_table)["Table"]
    assert inv["BillingModeSummary"]["BillingMode"] == "PAY_PER_REQUEST"
    assert runs["BillingModeSummary"]["BillingMode"] == "PAY_PER_REQUEST"
    assert sorted((k["AttributeName"], k["KeyType"]) for k in inv["KeySchema"]) == [
        ("index", "RANGE"),
        ("run_id", "HASH"),
    ]
    assert {a["AttributeName"]: a["AttributeType"] for a in inv["AttributeDefinitions"]} == {
        "run_id": "S",
        "index": "N",
    }


def test_create_tables_refuses_a_table_with_another_key(aws: ClientFactory) -> None:
    ddb = aws("dynamodb")
    wrong = load_settings(invocations_table=unique("inv"), runs_table=unique("runs"))
    ddb.create_table(
        TableName=wrong.invocations_table,
        BillingMode="PAY_PER_REQUEST",
        AttributeDefinitions=[{"AttributeName": "run_id", "AttributeType": "S"}],
        KeySchema=[{"AttributeName": "run_id", "KeyType": "HASH"}],
    )
    with pytest.raises(ValueError, match="key schema"):
        create_tables(ddb, wrong)


def test_record_round_trips_exactly(store: ResultsStore) -> None:
    run_id = unique("run")
    original = record(run_id, 0, error_message=None, cached=True)
    assert store.put_invocation(original) is True
    (back,) = store.invocations(run_id)
    assert back == original
    (plain,) = store.invocation_items(run_id)
    assert plain["attempts"] == 1 and plain["index"] == 0 and isinstance(plain["latency_ms"], float)


def test_first_write_wins_and_retries_count_attempts_once(
    store: ResultsStore, ddb: Any, settings: Settings
) -> None:
    run_id = unique("run")
    first = record(run_id, 3, latency_ms=111.0)
    assert store.put_invocation(first) is True
    assert store.put_invocation(record(run_id, 3, attempt=2, latency_ms=999.0)) is False
    assert store.put_invocation(record(run_id, 3, attempt=2, latency_ms=998.0)) is False  # duplicate of #2
    assert store.put_invocation(record(run_id, 3, attempt=1, latency_ms=997.0)) is False  # duplicate of #1
    assert store.put_invocation(record(run_id, 3, attempt=4, latency_ms=996.0)) is False
    assert count(ddb, settings, run_id) == 1
    (kept,) = store.invocations(run_id)
    assert kept == first
    item = raw_item(ddb, settings, run_id, 3)
    assert item["attempts"] == {"N": "3"}
    assert sorted(item["attempt_numbers"]["NS"]) == ["1", "2", "4"]


def test_throttled_put_is_retried_with_backoff(ddb: Any, settings: Settings) -> None:
    run_id = unique("run")
    flaky = Flaky(ddb, "put_item", failures=3)
    delays: list[float] = []
    store = ResultsStore(flaky, settings.invocations_table, settings.runs_table, sleep=delays.append)
    assert store.put_invocation(record(run_id, 0)) is True
    assert flaky.calls == 4 and len(delays) == 3
    assert all(0 <= d <= store.base_delay_s * 2**i for i, d in enumerate(delays))
    assert raw_item(ddb, settings, run_id, 0)["attempts"] == {"N": "1"}


def test_lost_reply_to_our_own_put_is_not_a_second_attempt(ddb: Any, settings: Settings) -> None:
    run_id = unique("run")
    flaky = Flaky(ddb, "put_item", failures=1, after=True)
    store = ResultsStore(flaky, settings.invocations_table, settings.runs_table, sleep=lambda _: None)
    assert store.put_invocation(record(run_id, 0)) is True
    assert flaky.calls == 2
    assert count(ddb, settings, run_id) == 1
    assert raw_item(ddb, settings, run_id, 0)["attempts"] == {"N": "1"}


def test_lost_reply_to_an_attempt_update_does_not_double_count(ddb: Any, settings: Settings) -> None:
    run_id = unique("run")
    ResultsStore(ddb, settings.invocations_table, settings.runs_table).put_invocation(record(run_id, 0))
    flaky = Flaky(ddb, "update_item", failures=1, after=True)
    store = ResultsStore(flaky, settings.invocations_table, settings.runs_table, sleep=lambda _: None)
    assert store.put_invocation(record(run_id, 0, attempt=2)) is False
    assert flaky.calls == 2
    assert raw_item(ddb, settings, run_id, 0)["attempts"] == {"N": "2"}


def test_throttling_that_never_ends_surfaces(ddb: Any, settings: Settings) -> None:
    flaky = Flaky(ddb, "put_item", failures=100)
    store = ResultsStore(
        flaky, settings.invocations_table, settings.runs_table, max_attempts=3, sleep=lambda _: None
    )
    with pytest.raises(ClientError, match="ThrottlingException"):
        store.put_invocation(record(unique("run"), 0))
    assert flaky.calls == 3


def test_invocations_read_every_page_beyond_one_megabyte(
    store: ResultsStore, ddb: Any, settings: Settings
) -> None:
    run_id = unique("run")
    n = 300
    message = "x" * 4000  # 300 records x ~4.4 KB > 1 MB: DynamoDB pages the query
    for i in range(n):
        store.put_invocation(
            record(run_id, i, sha256_ok=False, error_type="StorageError", error_message=message)
        )
    first_page = ddb.query(
        TableName=settings.invocations_table,
        KeyConditionExpression="run_id = :r",
        ExpressionAttributeValues={":r": {"S": run_id}},
    )
    assert "LastEvaluatedKey" in first_page and first_page["Count"] < n
    records = store.invocations(run_id)
    assert [r.index for r in records] == list(range(n))
    assert {r.error_message for r in records} == {message}
    small_pages = store.invocations(run_id, page_size=7)
    assert [r.index for r in small_pages] == list(range(n))


def test_huge_error_message_is_truncated_not_rejected(store: ResultsStore) -> None:
    run_id = unique("run")
    store.put_invocation(
        record(run_id, 0, sha256_ok=False, error_type="StorageError", error_message="e" * 500_000)
    )
    (back,) = store.invocations(run_id)
    assert back.error_message is not None and len(back.error_message) == 16_384


def test_a_step_functions_failure_record_reads_as_a_failed_invocation(
    store: ResultsStore, ddb: Any, settings: Settings
) -> None:
    run_id = unique("run")
    # What the state machine's RecordInvocationFailure writes for an invocation that wrote nothing.
    ddb.put_item(
        TableName=settings.invocations_table,
        Item={
            "run_id": {"S": run_id},
            "index": {"N": "1"},
            "compute": {"S": "lambda"},
            "storage": {"S": "s3"},
            "error_type": {"S": "States.Timeout"},
            "error_message": {"S": "Task timed out"},
            "sha256_ok": {"BOOL": False},
            "bytes": {"N": "0"},
            "recorded_by": {"S": "step-functions"},
        },
        ConditionExpression="attribute_not_exists(run_id)",
    )
    store.put_invocation(record(run_id, 0))
    # the handler's late write for index 1 loses to the failure record, and counts as an attempt
    assert store.put_invocation(record(run_id, 1, attempt=2)) is False
    records = store.invocations(run_id)
    assert [(r.index, r.error_type, r.bytes) for r in records] == [
        (0, None, 1_000_000),
        (1, "States.Timeout", 0),
    ]


def make_request(run_id: str, invocations: int = 3) -> RunRequest:
    return RunRequest(run_id=run_id, compute="ecs", storage="rds", invocations=invocations, label="t")


def test_run_item_and_summary_round_trip(store: ResultsStore) -> None:
    run_id = unique("run")
    request = make_request(run_id)
    assert store.get_run(run_id) is None
    store.put_run(run_id, request, "RUNNING", 1_700_000_000.5)
    store.set_execution(run_id, f"arn:aws:states:us-east-1:000000000000:execution:m:{run_id}")
    run = store.get_run(run_id)
    assert run is not None
    assert (run["status"], run["started_at"], run["summary"]) == ("RUNNING", 1_700_000_000.5, None)
    assert run["execution_arn"].endswith(run_id)
    assert RunRequest.model_validate(run["request"]) == request
    for i in range(2):
        store.put_invocation(record(run_id, i))
    summary = aggregate_module.aggregate(store, request, wall_s=4.25)
    assert (summary.status, summary.succeeded, summary.missing, summary.failed) == (
        COMPLETED_WITH_FAILURES,
        2,
        1,
        1,
    )
    run = store.get_run(run_id)
    assert run is not None
    assert run["status"] == COMPLETED_WITH_FAILURES
    assert run["summary"] == json.loads(json.dumps(summary.to_json()))
    assert RunSummary.from_json(run["summary"]) == summary
    assert run["execution_arn"].endswith(run_id)  # kept by put_summary
    store.set_status(run_id, "FAILED", error="States.Runtime")
    assert (store.get_run(run_id) or {})["error"] == "States.Runtime"


def test_list_runs_newest_first_with_limit(aws: ClientFactory) -> None:
    settings = load_settings(invocations_table=unique("inv"), runs_table=unique("runs"))
    ddb = aws("dynamodb")
    create_tables(ddb, settings)
    store = ResultsStore(ddb, settings.invocations_table, settings.runs_table)
    ids = [unique("run") for _ in range(5)]
    for i, run_id in enumerate(ids):
        store.put_run(run_id, make_request(run_id), "RUNNING", 1_700_000_000.0 + (i * 7) % 5)
    runs = store.list_runs(3)
    started = [r["started_at"] for r in store.list_runs(10)]
    assert started == sorted(started, reverse=True) and len(started) == 5
    assert [r["run_id"] for r in runs] == [r["run_id"] for r in store.list_runs(10)[:3]]
    assert all(isinstance(r["request"], dict) for r in runs)


def test_aggregate_run_handler_payload(store: ResultsStore, settings: Settings) -> None:
    run_id = unique("run")
    request = make_request(run_id, invocations=2)
    store.put_run(run_id, request, "RUNNING", time.time())
    for i in range(2):
        store.put_invocation(record(run_id, i))
    started = datetime.fromtimestamp(time.time() - 30, UTC).isoformat().replace("+00:00", "Z")
    out = aggregate_module.run(
        {"request": request.to_input(), "execution_started_at": started}, settings, results_store=store
    )
    assert out["status"] == SUCCEEDED and out["invocations"]["succeeded"] == 2
    assert 29 <= out["wall_s"] < 120
    assert (store.get_run(run_id) or {})["summary"] == out
    assert len(json.dumps(out)) < 8192  # small: the execution output stays far below 256 KiB
