"""``perflab bench``: deploy, seed, run the requested configurations, and write the result directory.

Runs on the embedded local cloud (started here, stopped at the end) unless an endpoint is given.
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
    label: str | None = None
    options: dict[str, Any] = field(default_factory=dict)

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


def run_bench(plan: BenchPlan, progress: Progress | None = None, log: Callable[[str], None] = print) -> int:
    from perflab.config import RunRequest, get_settings
    from perflab.deploy import deploy
    from perflab.local.clients import LocalClients
    from perflab.report.files import write_invocations, write_summary
    from perflab.results import ResultsStore
    from perflab.runs import start_run, wait_for_run
    from perflab.seed import seed

    progress = progress or Progress()
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
                summary = {**summary, "execution_arn": execution_arn, "repeat": repeat + 1}
                runs.append(summary)
                for record in store.invocations(request.run_id):
                    rows.append(record.to_row())
        setup = {
            "source": "local" if not plan.endpoint else f"endpoint {plan.endpoint}",
            "source_note": LOCAL_NOTE if not plan.endpoint else "",
            "date": datetime.now(UTC).isoformat(timespec="seconds"),
            "machine": machine_facts(),
            "invocations": plan.invocations,
            "artifact_bytes": plan.artifact_bytes,
            "repeat": plan.repeat,
            "bench_wall_s": round(time.monotonic() - started, 1),
        }
    write_summary(plan.out, runs, setup)
    write_invocations(plan.out, rows)
    from perflab.report.build import build_report

    build_report([plan.out], plan.out)
    log(f"wrote {plan.out}/summary.json, invocations.csv, report.md ({time.monotonic() - started:.0f} s)")
    ok = all(r.get("invocations", {}).get("failed", 1) == 0 for r in runs)
    return 0 if ok else 1
