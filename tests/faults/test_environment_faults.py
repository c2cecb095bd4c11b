"""Faults of the environment, done through real APIs while runs go on: storage vanishing or lying,
Lambda throttling, PostgreSQL stopping or running out of connections."""

from __future__ import annotations

import contextlib
from collections.abc import Iterator
from pathlib import Path

import psycopg
import pytest
from botocore.exceptions import ClientError

from perflab.fault_harness import corrupt_artifact, delete_s3_artifact, set_reserved_concurrency
from perflab.local.postgres import LocalPostgres
from perflab.local.stack import LocalCloudInfo
from perflab.report.build import build_report
from perflab.report.files import write_invocations, write_summary
from perflab.storage import pg
from tests.conftest import ClientFactory
from tests.faults.conftest import Workload, check_accounted, deploy_workload, run_with_fault, wait_until

pytestmark = pytest.mark.faults

N = 6


def test_s3_object_deleted_mid_run(workload: Workload) -> None:
    ref = workload.seed_model("deleted")

    def delete(_execution_arn: str) -> None:
        delete_s3_artifact(workload.aws("s3"), workload.settings.bucket, ref)

    # One download at a time, so invocations are still to come when the object goes.
    run = run_with_fault(
        workload, "lambda", "s3", N, ref=ref, label="s3-delete", mid_run=delete, max_concurrency=1
    )
    check_accounted(run, {"ArtifactNotFound"})
    assert run.succeeded and run.failed
    assert all(ref.s3_key in (r.error_message or "") for r in run.failed)
    # every failure comes after every success: the object was there, then it was not
    assert max(r.index for r in run.succeeded) < min(r.index for r in run.failed)


@pytest.mark.parametrize("layout", ["chunks", "large_object"])
def test_rds_artifact_not_matching_its_sha256(workload: Workload, layout: str) -> None:
    """The S3 case (Lambda and ECS) is tests/local/test_workload.py::test_corrupted_artifact_..."""
    ref = workload.seed_model("corrupt")
    corrupt_artifact(workload.aws("s3"), workload.settings.bucket, workload.database_url, ref, "rds")
    run = run_with_fault(workload, "lambda", "rds", 3, ref=ref, label="checksum", rds_layout=layout)
    check_accounted(run, {"ChecksumMismatch"})
    assert len(run.failed) == 3
    for record in run.failed:
        assert record.bytes == ref.size and ref.sha256 in (record.error_message or "")
        assert record.environment_id  # recorded by the handler itself


def throttled_items(aws: ClientFactory, execution_arn: str) -> int:
    """Map children whose download was refused with Lambda.TooManyRequestsException (their history)."""
    sfn = aws("stepfunctions")
    count = 0
    try:
        map_runs = sfn.list_map_runs(executionArn=execution_arn)["mapRuns"]
    except ClientError:  # moto answers 500 while the Map state is still starting its map run
        return 0
    for map_run in map_runs:
        for child in sfn.list_executions(mapRunArn=map_run["mapRunArn"])["executions"]:
            events = sfn.get_execution_history(executionArn=child["executionArn"])["events"]
            failed = [e.get("taskFailedEventDetails", {}) for e in events if e["type"] == "TaskFailed"]
            count += any(d.get("error") == "Lambda.TooManyRequestsException" for d in failed)
    return count


def test_too_many_requests_is_retried_then_recorded(workload: Workload) -> None:
    """Reserved concurrency 0 (every invoke refused) until the state machine has been refused, then 2
    for 6 invocations: the throttled ones are retried (the Lambda.TooManyRequestsException retrier)
    and recorded by the attempt that got through."""
    lam = workload.aws("lambda")
    function = workload.deployment.download_function

    def loosen(execution_arn: str) -> None:
        wait_until(lambda: throttled_items(workload.aws, execution_arn) >= 1, "a throttled invocation")
        set_reserved_concurrency(lam, function, 2)

    set_reserved_concurrency(lam, function, 0)
    try:
        run = run_with_fault(
            workload, "lambda", "s3", N, label="concurrency", mid_run=loosen, after_first_record=False
        )
    finally:
        set_reserved_concurrency(lam, function, None)
    print(f"  retried: {run.summary['retried']}")
    check_accounted(run, {"Lambda.TooManyRequestsException"})
    assert throttled_items(workload.aws, run.execution["executionArn"]) >= 1
    assert run.summary["retried"] >= 1  # a record written by a retried attempt
    assert any(r.attempt > 1 for r in run.succeeded)


@pytest.fixture(scope="module")
def own_postgres(tmp_path_factory: pytest.TempPathFactory) -> Iterator[LocalPostgres]:
    """A PostgreSQL this module stops and starts (the session stack's serves every other test)."""
    server = LocalPostgres(tmp_path_factory.mktemp("fault-pg") / "pg")
    server.start()
    yield server
    pg.close_all()
    server.stop()


def test_postgres_stopped_mid_run_then_restarted(
    own_postgres: LocalPostgres, local_cloud: LocalCloudInfo, aws: ClientFactory
) -> None:
    assert own_postgres.url is not None
    wl = deploy_workload(aws, own_postgres.url, local_cloud.region, "pgstop")

    def stop(_execution_arn: str) -> None:
        own_postgres.stop_server()

    run = run_with_fault(wl, "lambda", "rds", N, label="pg-stop", mid_run=stop, max_concurrency=1)
    check_accounted(run, {"ConnectionFailed", "StorageError"})
    assert run.succeeded and run.failed
    assert max(r.index for r in run.succeeded) < min(r.index for r in run.failed)
    messages = " ".join(r.error_message or "" for r in run.failed)
    assert "Connection refused" in messages or "terminating connection" in messages, messages

    own_postgres.start_server()
    again = run_with_fault(wl, "lambda", "rds", N, label="after restart")
    check_accounted(again, set())
    assert len(again.succeeded) == N


@contextlib.contextmanager
def every_slot_taken(url: str) -> Iterator[int]:
    """Hold connections until PostgreSQL refuses one: no slot is left for anybody else."""
    held: list[psycopg.Connection[tuple[object, ...]]] = []
    try:
        while True:
            try:
                held.append(psycopg.connect(url, connect_timeout=5))
            except psycopg.OperationalError:
                break
        yield len(held)
    finally:
        for conn in held:
            conn.close()


def test_max_connections_below_the_fan_out(
    tmp_path: Path, local_cloud: LocalCloudInfo, aws: ClientFactory
) -> None:
    """max_connections 5 (2 for non-superusers) for 6 concurrent downloads, no pool: the refused
    connections are recorded as ConnectionFailed with PostgreSQL's own message, and the report shows
    them. The slots are held by other clients for the run, so which invocation gets one is not a
    matter of timing: none does."""
    with LocalPostgres(tmp_path / "pg", max_connections=5) as url:
        wl = deploy_workload(aws, url, local_cloud.region, "pgmax")
        pg.close_all()  # the seed's connection
        with every_slot_taken(url) as held:
            assert held == 2
            run = run_with_fault(wl, "lambda", "rds", N, label="pg-max-connections")
        check_accounted(run, {"ConnectionFailed"})
        assert len(run.failed) == N
        for record in run.failed:
            message = record.error_message or ""
            assert "PostgreSQL connection failed" in message
            assert "remaining connection slots are reserved" in message or "too many clients" in message

        out = tmp_path / "result"
        out.mkdir()
        write_summary(out, [run.summary], {"source": "local", "invocations": N})
        write_invocations(out, [r.to_row() for r in run.records])
        report = build_report([out], out).read_text()
        assert f"| lambda-rds | ConnectionFailed {N} |" in report
        assert "remaining connection slots are reserved" in (out / "invocations.csv").read_text()
