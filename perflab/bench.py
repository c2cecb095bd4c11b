"""``perflab bench``: deploy, seed, run the requested configurations, and write the result directory.

Runs on the embedded local cloud (started here, stopped at the end) unless an endpoint is given, or
through a deployed trigger API (``--api-url``, e.g. on AWS: :func:`run_bench_api`).
Exit codes (DESIGN.md): 0 every invocation succeeded, 1 the runs finished with failed invocations,
2 bad arguments.
"""

from __future__ import annotations

import sys
import time
from collections.abc import Callable, Iterator, Sequence
from contextlib import contextmanager
from dataclasses import dataclass, field
from datetime import UTC, datetime
from pathlib import Path
from typing import Any, TextIO

COMPUTES = ("lambda", "ecs")
LOCAL_NOTE = "local figures: one machine, forked environments; init times and network are not AWS's"
API_NOTE = (
    "runs started through the deployed API; 'client' is the machine that started them, not where they ran"
)
STORAGES = ("s3", "rds")


@dataclass
class BenchPlan:
    computes: Sequence[str]
    storages: Sequence[str]
    invocations: int
    artifact_bytes: int
    repeat: int = 1
    out: Path = Path("reports/latest")
    endpoint: str | None = None
    api_url: str | None = None
    label: str | None = None
    options: dict[str, Any] = field(default_factory=dict)
    #: ``perflab bench --inject FAULT[:EVERY]`` (:mod:`perflab.fault_harness`)
    inject: str | None = None

    def configurations(self) -> list[tuple[str, str]]:
        return [(c, s) for c in self.computes for s in self.storages]


class Progress:
    """One line of progress per run: a bar on a terminal, periodic lines otherwise."""

    def __init__(self, stream: TextIO = sys.stderr) -> None:
        self.stream = stream
        self.tty = stream.isatty()
        self._last_line = 0.0

    def update(self, label: str, done: int, total: int, elapsed_s: float, final: bool = False) -> None:
        width = 30
        filled = int(width * done / total) if total else width
        text = f"{label:<14} [{'#' * filled}{'.' * (width - filled)}] {done}/{total} {elapsed_s:6.1f} s"
        if self.tty:
            self.stream.write("\r" + text + ("\n" if final else ""))
            self.stream.flush()
        elif final or time.monotonic() - self._last_line >= 5:
            self._last_line = time.monotonic()
            self.stream.write(text + "\n")
            self.stream.flush()


@contextmanager
def _stack(plan: BenchPlan) -> Iterator[tuple[str, str, str | None]]:
    """(endpoint, region, database url) of the cloud to run on; starts the embedded one if needed."""
    from perflab.config import get_settings

    settings = get_settings()
    if plan.endpoint:
        url = settings.database_url.get_secret_value() if settings.database_url else None
        yield plan.endpoint, settings.region, url
        return
    from perflab.deploy import local_cloud_config
    from perflab.local.process import local_cloud_process

    # Port 0: never collide with a `perflab local up` the user may have running.
    with local_cloud_process(local_cloud_config(port=0, api_port=0)) as info:
        yield info.endpoint_url, info.region, info.database_url


def machine_facts() -> dict[str, Any]:
    from perflab.local.smoke import machine_facts as facts

    return facts()


def request_input(plan: BenchPlan, compute: str, storage: str, model_id: str, version: str) -> dict[str, Any]:
    return {
        "compute": compute,
        "storage": storage,
        "invocations": plan.invocations,
        "model_id": model_id,
        "version": version,
        "artifact_bytes": plan.artifact_bytes,
        "label": plan.label,
        **plan.options,
    }


def validate_plan(plan: BenchPlan) -> None:
    """Check settings and every run's request before anything starts (bad input: exit 2, nothing run).

    Raises ``perflab.config.ConfigError`` or ``perflab.config.InvalidRequest``.
    """
    from perflab.config import RunRequest, load_settings

    settings = load_settings()
    for compute, storage in plan.configurations():
        RunRequest.from_input(
            request_input(plan, compute, storage, settings.model_id, settings.version), settings
        )
    if plan.inject is not None:
        from perflab.fault_harness import validate_fault

        validate_fault(plan)


def counted_transitions(
    clients: Callable[[str], Any], execution_arn: str, log: Callable[[str], None]
) -> dict[str, Any]:
    """``{"transitions": N, "transitions_detail": {...}}`` counted from the run's execution history
    (``perflab.history``), or ``{}`` when the endpoint cannot answer the history APIs: the report then
    falls back to its estimate and says so."""
    from botocore.exceptions import BotoCoreError, ClientError

    from perflab.history import count_run_transitions

    try:
        counted = count_run_transitions(clients("stepfunctions"), execution_arn)
    except (BotoCoreError, ClientError) as exc:
        log(f"transitions not counted for {execution_arn} (the report estimates them): {exc}")
        return {}
    return {"transitions": counted.total, "transitions_detail": counted.to_json()}


def run_bench(plan: BenchPlan, progress: Progress | None = None, log: Callable[[str], None] = print) -> int:
    from perflab.config import RunRequest, get_settings
    from perflab.deploy import deploy
    from perflab.local.clients import LocalClients
    from perflab.results import ResultsStore
    from perflab.runs import start_run, wait_for_run
    from perflab.seed import seed

    progress = progress or Progress()
    if plan.api_url:
        return run_bench_api(plan, plan.api_url, progress, log)
    if plan.inject is not None:
        from perflab.fault_harness import run_fault_bench

        return run_fault_bench(plan, progress, log)
    settings = get_settings()
    plan.out.mkdir(parents=True, exist_ok=True)
    started = time.monotonic()
    runs: list[dict[str, Any]] = []
    rows: list[dict[str, Any]] = []
    with _stack(plan) as (endpoint, region, database_url):
        log(f"cloud: {endpoint}{' (embedded local cloud)' if not plan.endpoint else ''}")
        clients = LocalClients(endpoint, region, max_pool_connections=20)
        deployment = deploy(clients, settings, database_url=database_url)
        log(f"deployed: {deployment.state_machine_arn}")
        if database_url is None:
            raise SystemExit("perflab bench needs PostgreSQL: set PERFLAB_DATABASE_URL (or let it start one)")
        ref = seed(settings, clients("s3"), database_url, plan.artifact_bytes)
        log(f"seeded: {ref.model_id} {ref.version}, {ref.size:,} bytes, sha256 {ref.sha256[:12]}…")
        store = ResultsStore(clients("dynamodb"), settings.invocations_table, settings.runs_table)
        for repeat in range(plan.repeat):
            for compute, storage in plan.configurations():
                request = RunRequest.from_input(
                    request_input(plan, compute, storage, ref.model_id, ref.version), settings
                )
                label = f"{compute}-{storage}" + (f" #{repeat + 1}" if plan.repeat > 1 else "")
                execution_arn = start_run(clients, deployment, store, request)

                def on_progress(done: int, total: int, elapsed: float, label: str = label) -> None:
                    progress.update(label, done, total, elapsed)

                summary = wait_for_run(clients, store, request, execution_arn, on_progress=on_progress)
                done = summary.get("invocations", {}).get("succeeded", 0) + summary.get(
                    "invocations", {}
                ).get("failed", 0)
                progress.update(label, done, plan.invocations, summary.get("wall_s") or 0.0, final=True)
                summary = {
                    **summary,
                    "execution_arn": execution_arn,
                    "repeat": repeat + 1,
                    **counted_transitions(clients, execution_arn, log),
                }
                runs.append(summary)
                for record in store.invocations(request.run_id):
                    rows.append(record.to_row())
        source = "local" if not plan.endpoint else f"endpoint {plan.endpoint}"
        setup = bench_setup(plan, started, source, LOCAL_NOTE if not plan.endpoint else "")
    return write_results(plan, runs, rows, setup, started, log)


def run_bench_api(
    plan: BenchPlan, api_url: str, progress: Progress, log: Callable[[str], None] = print
) -> int:
    """The same runs through a deployed trigger API (``--api-url``): nothing is deployed or seeded here.

    Needs ``PERFLAB_API_TOKEN``, or AWS credentials with ``PERFLAB_API_AUTH=iam``. Transitions are
    counted from the execution history when this machine
    can read it (AWS credentials, or ``AWS_ENDPOINT_URL`` for a local stack); else the report estimates.
    Raises ``perflab.api_client.ApiCallError`` when the API refuses a request.
    """
    import boto3

    from perflab.api_client import ApiClient, api_auth, follow_run, sigv4_signer
    from perflab.config import RunRequest, get_settings

    settings = get_settings()
    if api_auth() == "iam":
        client = ApiClient(api_url, None, signer=sigv4_signer(settings.region))
    elif settings.api_token is None:
        raise ValueError("PERFLAB_API_TOKEN is not set: the trigger API needs its bearer token")
    else:
        client = ApiClient(api_url, settings.api_token.get_secret_value())
    plan.out.mkdir(parents=True, exist_ok=True)
    started = time.monotonic()
    runs: list[dict[str, Any]] = []
    rows: list[dict[str, Any]] = []
    log(f"api: {api_url} (the stack must be deployed and seeded: README, Deploy to AWS)")

    def history(service: str) -> Any:
        return boto3.client(service, region_name=settings.region)

    for repeat in range(plan.repeat):
        for compute, storage in plan.configurations():
            request = RunRequest.from_input(
                request_input(plan, compute, storage, settings.model_id, settings.version), settings
            )
            label = f"{compute}-{storage}" + (f" #{repeat + 1}" if plan.repeat > 1 else "")
            execution_arn = str(client.start(request).get("execution_arn", ""))

            def on_progress(done: int, total: int, elapsed: float, label: str = label) -> None:
                progress.update(label, done, total, elapsed)

            summary, records = follow_run(client, request, on_progress=on_progress)
            progress.update(label, len(records), plan.invocations, summary.get("wall_s") or 0.0, final=True)
            counted = counted_transitions(history, execution_arn, log) if execution_arn else {}
            runs.append({**summary, "execution_arn": execution_arn, "repeat": repeat + 1, **counted})
            rows.extend(record.to_row() for record in records)
    setup = bench_setup(plan, started, f"api {api_url}", API_NOTE, machine_key="client")
    return write_results(plan, runs, rows, setup, started, log)


def bench_setup(
    plan: BenchPlan, started: float, source: str, note: str, machine_key: str = "machine"
) -> dict[str, Any]:
    """``summary.json``'s ``setup``: where the runs ran, when, on what (``machine_key``), and how many."""
    return {
        "source": source,
        "source_note": note,
        "date": datetime.now(UTC).isoformat(timespec="seconds"),
        machine_key: machine_facts(),
        "invocations": plan.invocations,
        "artifact_bytes": plan.artifact_bytes,
        "repeat": plan.repeat,
        "bench_wall_s": round(time.monotonic() - started, 1),
    }


def write_results(
    plan: BenchPlan,
    runs: Sequence[dict[str, Any]],
    rows: Sequence[dict[str, Any]],
    setup: dict[str, Any],
    started: float,
    log: Callable[[str], None],
) -> int:
    """Write summary.json, invocations.csv and report.md; exit code 0 when every invocation succeeded."""
    from perflab.report.build import build_report
    from perflab.report.files import write_invocations, write_summary

    write_summary(plan.out, runs, setup)
    write_invocations(plan.out, rows)
    build_report([plan.out], plan.out)
    log(f"wrote {plan.out}/summary.json, invocations.csv, report.md ({time.monotonic() - started:.0f} s)")
    ok = all(r.get("invocations", {}).get("failed", 1) == 0 for r in runs)
    return 0 if ok else 1
