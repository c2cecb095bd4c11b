"""Fault runs from outside: ``perflab bench --inject FAULT`` and the pieces ``tests/faults`` shares.

A fault of the code (:data:`perflab.faults.HANDLER_FAULTS`) is deployed: the download function and
task get ``PERFLAB_INJECT`` (``deploy(..., inject=...)``) and really fail that way. A fault of the
environment is done here, through the same APIs an operator (or an outage) would use:

=================== ==================================================================================
``pg-stop``         PostgreSQL (started by the bench for the purpose) is stopped once the run has
                    written its first record, restarted after the run, and the configuration runs
                    again: the re-run must succeed
``s3-delete``       the artifact's S3 object is deleted once the run has written its first record
                    (re-seeded afterwards)
``checksum``        one byte of the stored artifact is flipped before the run (S3 object, RDS chunk
                    row and large object; repaired afterwards)
``concurrency``     the download function's reserved concurrency is set to a quarter of the fan-out
                    (``PutFunctionConcurrency``), so invocations are throttled
                    (``Lambda.TooManyRequestsException``) and retried by the state machine
``pg-max-connections`` the local PostgreSQL runs with ``max_connections`` a quarter of the fan-out
                    (three of them reserved for superusers), and no pool stands in between
=================== ==================================================================================

For the code faults: ``timeout`` runs with the download function's Timeout at
:data:`TIMEOUT_FAULT_S`; ``memory`` with MemorySize :data:`MEMORY_FAULT_MB` and at most
:data:`MEMORY_FAULT_CONCURRENCY` downloads at once (each environment grows past its limit before it
is killed: a 100-way fan-out of that would need tens of GB on one machine). Only the configurations a
fault applies to run (:meth:`perflab.faults.FaultSpec.applies`). With ``--endpoint`` the deployment
is restored (no ``PERFLAB_INJECT``, no reserved concurrency) when the bench ends; the PostgreSQL faults
need the embedded local cloud.
"""

from __future__ import annotations

import contextlib
import tempfile
import time
from collections.abc import Callable, Iterator
from dataclasses import dataclass
from pathlib import Path
from typing import TYPE_CHECKING, Any

from perflab.config import InvalidRequest
from perflab.faults import APPLIES, FaultSpec
from perflab.storage.base import ArtifactRef

if TYPE_CHECKING:
    from perflab.bench import BenchPlan, Progress
    from perflab.local.postgres import LocalPostgres

ClientFactory = Callable[[str], Any]

TIMEOUT_FAULT_S = 3
MEMORY_FAULT_MB = 256
MEMORY_FAULT_CONCURRENCY = 8
#: PostgreSQL reserves this many slots for superusers (``superuser_reserved_connections``).
PG_RESERVED_CONNECTIONS = 3
PG_FAULTS = ("pg-stop", "pg-max-connections")


def reserved_concurrency_for(invocations: int) -> int:
    """The ``concurrency`` fault's reserved concurrency: a quarter of the fan-out (at least 1)."""
    return max(1, invocations // 4)


def pg_max_connections_for(invocations: int) -> int:
    """The ``pg-max-connections`` fault's ``max_connections``: a quarter of the fan-out, plus the
    superuser slots (at least 1 slot for perflab)."""
    return max(1, invocations // 4) + PG_RESERVED_CONNECTIONS


# --- the faults of the environment, through real APIs -----------------------------------------------


def delete_s3_artifact(s3: Any, bucket: str, ref: ArtifactRef) -> None:
    """Delete the artifact's S3 object (an operator's mistake, a lifecycle rule)."""
    s3.delete_object(Bucket=bucket, Key=ref.s3_key)


def corrupt_artifact(s3: Any, bucket: str, conninfo: str | None, ref: ArtifactRef, storage: str) -> None:
    """Flip one byte in the middle of the stored artifact (same size, different sha256).

    ``s3``: the object is rewritten. ``rds``: the middle chunk row and the large object (both layouts).
    ``perflab seed`` with ``force=True`` repairs either.
    """
    middle = ref.size // 2
    if storage == "s3":
        body = bytearray(s3.get_object(Bucket=bucket, Key=ref.s3_key)["Body"].read())
        body[middle] ^= 0xFF
        s3.put_object(Bucket=bucket, Key=ref.s3_key, Body=bytes(body))
        return
    if conninfo is None:
        raise ValueError("corrupting the RDS copy needs the database URL")
    import psycopg

    with psycopg.connect(conninfo, autocommit=True) as conn:
        rows = conn.execute(
            "SELECT seq, length(data) FROM model_chunks WHERE model_id = %s AND version = %s ORDER BY seq",
            (ref.model_id, ref.version),
        ).fetchall()
        offset = 0
        for seq, length in rows:
            if offset + length > middle:
                conn.execute(
                    "UPDATE model_chunks SET data = set_byte(data, %s, get_byte(data, %s) # 255)"
                    " WHERE model_id = %s AND version = %s AND seq = %s",
                    (middle - offset, middle - offset, ref.model_id, ref.version, seq),
                )
                break
            offset += length
        found = conn.execute(
            "SELECT lo_oid FROM models WHERE model_id = %s AND version = %s", (ref.model_id, ref.version)
        ).fetchone()
        if found is not None and found[0] is not None:
            oid = int(found[0])
            with conn.transaction():
                (byte,) = conn.execute(
                    "SELECT get_byte(lo_get(%s::oid, %s, 1), 0)", (oid, middle)
                ).fetchone() or (0,)
                conn.execute("SELECT lo_put(%s::oid, %s, %s)", (oid, middle, bytes([int(byte) ^ 0xFF])))


def set_reserved_concurrency(lam: Any, function_name: str, limit: int | None) -> None:
    """``PutFunctionConcurrency`` (``None``: ``DeleteFunctionConcurrency``, i.e. unreserved)."""
    if limit is None:
        lam.delete_function_concurrency(FunctionName=function_name)
    else:
        lam.put_function_concurrency(FunctionName=function_name, ReservedConcurrentExecutions=limit)


def wait_for_records(
    clients: ClientFactory,
    table: str,
    run_id: str,
    at_least: int,
    execution_arn: str,
    timeout_s: float = 120.0,
) -> int:
    """Poll until the run has ``at_least`` records (or its execution has ended); return the count.

    How a harness acts "mid-run": on an observed state of the run, never after a guessed delay.
    """
    from perflab.runs import TERMINAL, count_records

    deadline = time.monotonic() + timeout_s
    while True:
        count = count_records(clients, table, run_id)
        if count >= at_least:
            return count
        status = clients("stepfunctions").describe_execution(executionArn=execution_arn)["status"]
        if status in TERMINAL:
            return count
        if time.monotonic() > deadline:
            raise TimeoutError(f"{run_id}: {count} records after {timeout_s} s, waiting for {at_least}")
        time.sleep(0.05)


# --- perflab bench --inject -------------------------------------------------------------------------


def validate_fault(plan: BenchPlan) -> FaultSpec:
    """The plan's fault, checked against the plan; ``InvalidRequest`` (field ``inject``) otherwise."""
    assert plan.inject is not None
    try:
        spec = FaultSpec.parse(plan.inject)
    except ValueError as exc:
        raise InvalidRequest("inject", str(exc).removeprefix("PERFLAB_INJECT: ")) from None
    if not any(spec.applies(c, s) for c, s in plan.configurations()):
        computes, storages = APPLIES[spec.name]
        raise InvalidRequest(
            "inject",
            f"{spec.name} applies to compute {'|'.join(sorted(computes))} with storage "
            f"{'|'.join(sorted(storages))}; no requested configuration matches",
        )
    if plan.api_url:
        raise InvalidRequest("inject", "needs a deployment perflab bench controls: not with --api-url")
    if spec.name in PG_FAULTS and plan.endpoint:
        raise InvalidRequest(
            "inject", f"{spec.name} needs the embedded local cloud's PostgreSQL: drop --endpoint"
        )
    return spec


@dataclass
class _Fault:
    """One fault run's moving parts: what to do before, during and after each run."""

    spec: FaultSpec
    clients: ClientFactory
    deployment: Any
    settings: Any
    database_url: str | None
    invocations: int
    log: Callable[[str], None]
    postgres: LocalPostgres | None = None
    ref: ArtifactRef | None = None

    def before(self, storage: str) -> None:
        assert self.ref is not None
        if self.spec.name == "checksum":
            corrupt_artifact(self.clients("s3"), self.settings.bucket, self.database_url, self.ref, storage)
            self.log(f"fault: flipped one byte of the {storage} copy of {self.ref.model_id}")
        elif self.spec.name == "concurrency":
            limit = reserved_concurrency_for(self.invocations)
            set_reserved_concurrency(self.clients("lambda"), self.deployment.download_function, limit)
            self.log(f"fault: reserved concurrency {limit} for {self.invocations} invocations")

    def during(self) -> None:
        assert self.ref is not None
        if self.spec.name == "s3-delete":
            delete_s3_artifact(self.clients("s3"), self.settings.bucket, self.ref)
            self.log(f"fault: deleted s3://{self.settings.bucket}/{self.ref.s3_key} mid-run")
        elif self.spec.name == "pg-stop" and self.postgres is not None:
            self.postgres.stop_server()
            self.log("fault: PostgreSQL stopped mid-run")

    def after(self) -> None:
        from perflab.seed import seed

        if self.spec.name in ("checksum", "s3-delete") and self.database_url is not None:
            assert self.ref is not None
            seed(self.settings, self.clients("s3"), self.database_url, self.ref.size, force=True)
        elif self.spec.name == "concurrency":
            set_reserved_concurrency(self.clients("lambda"), self.deployment.download_function, None)
        elif self.spec.name == "pg-stop" and self.postgres is not None:
            self.postgres.start_server()
            self.log("fault: PostgreSQL started again; the configuration runs once more")


@contextlib.contextmanager
def _cloud(plan: BenchPlan, spec: FaultSpec) -> Iterator[tuple[str, str, str | None, LocalPostgres | None]]:
    """(endpoint, region, database url, the PostgreSQL this harness owns) for the fault run."""
    from perflab.config import get_settings

    settings = get_settings()
    if plan.endpoint:
        url = settings.database_url.get_secret_value() if settings.database_url else None
        yield plan.endpoint, settings.region, url, None
        return
    from perflab.deploy import local_cloud_config
    from perflab.local.process import local_cloud_process

    overrides: dict[str, Any] = {"port": 0, "api_port": 0}
    with contextlib.ExitStack() as stack:
        postgres = None
        if spec.name == "pg-stop":
            from perflab.local.postgres import LocalPostgres

            tmp = stack.enter_context(tempfile.TemporaryDirectory(prefix="perflab-fault-pg-"))
            postgres = LocalPostgres(Path(tmp) / "postgres")
            overrides["database_url"] = postgres.start()
            stack.callback(postgres.stop)
        elif spec.name == "pg-max-connections":
            overrides["postgres_max_connections"] = pg_max_connections_for(plan.invocations)
        info = stack.enter_context(local_cloud_process(local_cloud_config(**overrides)))
        yield info.endpoint_url, info.region, info.database_url, postgres


def run_fault_bench(plan: BenchPlan, progress: Progress, log: Callable[[str], None] = print) -> int:
    """``perflab bench --inject FAULT``: the bench's runs with the fault in place (module docstring)."""
    from perflab.bench import LOCAL_NOTE, counted_transitions, machine_facts, request_input, write_results
    from perflab.config import RunRequest, get_settings
    from perflab.deploy import deploy
    from perflab.local.clients import LocalClients
    from perflab.results import ResultsStore
    from perflab.runs import start_run, wait_for_run
    from perflab.seed import seed

    spec = validate_fault(plan)
    settings = get_settings()
    if spec.name == "timeout":
        settings = settings.model_copy(update={"lambda_timeout_s": TIMEOUT_FAULT_S})
    configurations = [(c, s) for c, s in plan.configurations() if spec.applies(c, s)]
    for compute, storage in plan.configurations():
        if (compute, storage) not in configurations:
            log(f"fault {spec.name} does not apply to {compute}-{storage}: not run")
    plan.out.mkdir(parents=True, exist_ok=True)
    started = time.monotonic()
    runs: list[dict[str, Any]] = []
    rows: list[dict[str, Any]] = []
    with _cloud(plan, spec) as (endpoint, region, database_url, postgres):
        if database_url is None:
            raise SystemExit("perflab bench needs PostgreSQL: set PERFLAB_DATABASE_URL (or let it start one)")
        log(f"cloud: {endpoint}{' (embedded local cloud)' if not plan.endpoint else ''}; fault: {spec}")
        clients = LocalClients(endpoint, region, max_pool_connections=20)
        deployment = deploy(clients, settings, database_url, inject=str(spec) if spec.in_handler else None)
        with contextlib.ExitStack() as restore:
            if plan.endpoint:  # leave the user's deployment as it was
                restore.callback(deploy, clients, get_settings(), database_url)
            if spec.name == "memory":
                clients("lambda").update_function_configuration(
                    FunctionName=deployment.download_function, MemorySize=MEMORY_FAULT_MB
                )
            fault = _Fault(spec, clients, deployment, settings, database_url, plan.invocations, log, postgres)
            fault.ref = ref = seed(settings, clients("s3"), database_url, plan.artifact_bytes)
            store = ResultsStore(clients("dynamodb"), settings.invocations_table, settings.runs_table)
            phases = ("fault", "after restart") if spec.name == "pg-stop" else ("fault",)
            for repeat in range(plan.repeat):
                for compute, storage in configurations:
                    for phase in phases:
                        injected = phase == "fault"
                        options = dict(plan.options)
                        if spec.name == "memory":
                            options["max_concurrency"] = min(plan.invocations, MEMORY_FAULT_CONCURRENCY)
                        data = {
                            **request_input(plan, compute, storage, ref.model_id, ref.version),
                            **options,
                            "label": plan.label or f"inject {spec}" + ("" if injected else f" ({phase})"),
                        }
                        request = RunRequest.from_input(data, settings)
                        label = f"{compute}-{storage}" + ("" if injected else " re-run")
                        if injected:
                            fault.before(storage)
                        execution_arn = start_run(clients, deployment, store, request)
                        fired = not injected

                        def on_progress(done: int, total: int, elapsed: float, label: str = label) -> None:
                            nonlocal fired
                            if not fired and done >= 1:
                                fired = True
                                fault.during()
                            progress.update(label, done, total, elapsed)

                        summary = wait_for_run(
                            clients, store, request, execution_arn, on_progress=on_progress
                        )
                        if injected:
                            fault.after()
                        counts = summary.get("invocations", {})
                        done = counts.get("succeeded", 0) + counts.get("failed", 0)
                        progress.update(
                            label, done, plan.invocations, summary.get("wall_s") or 0.0, final=True
                        )
                        log(
                            f"{label}: {counts.get('succeeded')} succeeded, {counts.get('failed')} failed "
                            f"{summary.get('errors_by_type') or {}}"
                        )
                        runs.append(
                            {
                                **summary,
                                "execution_arn": execution_arn,
                                "repeat": repeat + 1,
                                "fault": str(spec) if injected else None,
                                **counted_transitions(clients, execution_arn, log),
                            }
                        )
                        rows.extend(record.to_row() for record in store.invocations(request.run_id))
        setup = {
            "source": "local" if not plan.endpoint else f"endpoint {plan.endpoint}",
            "source_note": (LOCAL_NOTE if not plan.endpoint else "") + f"; fault injected: {spec}",
            "fault": str(spec),
            "date": _now(),
            "machine": machine_facts(),
            "invocations": plan.invocations,
            "artifact_bytes": plan.artifact_bytes,
            "repeat": plan.repeat,
            "bench_wall_s": round(time.monotonic() - started, 1),
        }
    return write_results(plan, runs, rows, setup, started, log)


def _now() -> str:
    from datetime import UTC, datetime

    return datetime.now(UTC).isoformat(timespec="seconds")
