"""``perflab perf``: one run of every measurement, in one local cloud, written to ``reports/perf/``.

Order: start the local cloud (free ports), deploy and seed as ``perflab bench`` does; the loopback
reference (:mod:`perflab.perf.reference`); the data path alone (:mod:`perflab.perf.datapath`); the full
pipeline once per configuration (:mod:`perflab.perf.pipeline`); the scaling series for one
configuration (N, then artifact size, re-seeding for each size). Then ``perf.json``, ``scaling.png`` and
the printed tables (:mod:`perflab.perf.output`).

The scaling series runs ``lambda-rds`` by default: the local S3 (moto) materialises each GetObject's
object whole in the stack's memory, so 100 concurrent GETs of a 100 MB artifact would hold 10 GB there,
which measures moto, not perflab. ``--scaling-configuration`` picks another.
"""

from __future__ import annotations

import contextlib
import logging
import os
import time
from collections.abc import Callable, Iterator
from dataclasses import asdict, dataclass
from datetime import UTC, datetime
from pathlib import Path
from typing import TYPE_CHECKING, Any

if TYPE_CHECKING:
    from perflab.config import Settings
    from perflab.local.stack import LocalCloudInfo

COMPUTES = ("lambda", "ecs")
STORAGES = ("s3", "rds")
DEFAULT_CONFIGURATIONS: tuple[str, ...] = ("lambda-s3", "lambda-rds", "ecs-s3", "ecs-rds")


@dataclass
class PerfPlan:
    out: Path = Path("reports/perf")
    concurrencies: tuple[int, ...] = (1, 10, 100)
    rounds: int = 3
    artifact_bytes: int = 24_800_000
    invocations: int = 100
    layouts: tuple[str, ...] = ("s3", "rds_chunks", "rds_large_object")
    configurations: tuple[str, ...] = DEFAULT_CONFIGURATIONS
    scaling_configuration: str = "lambda-rds"
    scaling_invocations: tuple[int, ...] = (10, 100, 1000)
    scaling_artifact_bytes: tuple[int, ...] = (1_000_000, 24_800_000, 100_000_000)
    reference: bool = True
    wrk_duration_s: int = 3
    #: py-spy profiles (of the server process and one client) in each CPU-budget window, written
    #: under ``out/profiles/`` and summarised in ``out/profile.md``; the budgets are always measured.
    profile: bool = False

    def to_json(self) -> dict[str, Any]:
        data = asdict(self)
        data["out"] = str(self.out)
        return data


def split_configuration(name: str) -> tuple[str, str]:
    """``"lambda-s3"`` -> ``("lambda", "s3")``; ValueError for anything else."""
    compute, _, storage = name.partition("-")
    if compute not in COMPUTES or storage not in STORAGES:
        raise ValueError(f"configuration must be <{'|'.join(COMPUTES)}>-<{'|'.join(STORAGES)}>, got {name!r}")
    return compute, storage


def validate(plan: PerfPlan) -> None:
    """Bad plans fail before anything starts (the CLI exits 2)."""
    for name in (
        *plan.configurations,
        *((plan.scaling_configuration,) if plan.scaling_configuration else ()),
    ):
        split_configuration(name)
    if plan.rounds < 1:
        raise ValueError("--rounds must be at least 1")
    for c in plan.concurrencies:
        if c < 1:
            raise ValueError(f"concurrency levels must be positive, got {c}")
    from perflab.perf.datapath import LAYOUTS

    for layout in plan.layouts:
        if layout not in LAYOUTS:
            raise ValueError(f"layout must be one of {', '.join(LAYOUTS)}, got {layout!r}")
    from perflab.config import load_settings

    settings = load_settings()
    for n in (plan.invocations, *plan.scaling_invocations):
        if not 1 <= n <= settings.max_invocations:
            raise ValueError(f"invocations must be 1..{settings.max_invocations} (max_invocations), got {n}")


class Stage:
    """``with stage("reference"):`` logs the stage's start and how long it took, and keeps the time."""

    def __init__(self, log: Callable[[str], None]) -> None:
        self.log = log
        self.durations: dict[str, float] = {}

    @contextlib.contextmanager
    def __call__(self, name: str) -> Iterator[None]:
        self.log(f"== {name}")
        started = time.monotonic()
        try:
            yield
        finally:
            self.durations[name] = round(time.monotonic() - started, 1)
            self.log(f"   {name}: {self.durations[name]:.1f} s")


def _loadavg() -> list[float]:
    return [round(x, 2) for x in os.getloadavg()]


def run_perf(
    plan: PerfPlan,
    log: Callable[[str], None] = print,
    *,
    cloud_info: LocalCloudInfo | None = None,
    settings: Settings | None = None,
) -> int:
    """The whole benchmark (module docstring). Exit code 0 when every measured download succeeded.

    ``cloud_info``: run on this already running local cloud (it needs its PostgreSQL) instead of
    starting one; ``settings``: instead of the process's settings (e.g. another ``model_id``).
    """
    from perflab.bench import Progress, machine_facts
    from perflab.config import get_settings
    from perflab.deploy import deploy, local_cloud_config
    from perflab.local.clients import LocalClients
    from perflab.local.process import local_cloud_process
    from perflab.perf import output
    from perflab.perf.datapath import DataPathTarget, measure_datapath
    from perflab.perf.pipeline import PipelineContext, run_configuration
    from perflab.perf.profile import ProfileWindow
    from perflab.perf.reference import measure_reference
    from perflab.results import ResultsStore
    from perflab.seed import seed

    started = time.monotonic()
    stage = Stage(log)
    settings = settings if settings is not None else get_settings()
    # The workers' boto3 clients would each log "Found credentials" at the CLI's INFO level.
    logging.getLogger("botocore").setLevel(logging.WARNING)
    machine = {**machine_facts(), "loadavg_start": _loadavg()}
    cpus = os.cpu_count() or 1
    progress = Progress()
    reference: dict[str, Any] = {"server": None, "clients": [], "bytes": plan.artifact_bytes, "levels": {}}
    datapath: dict[str, dict[str, Any]] = {}
    pipeline: dict[str, dict[str, Any]] = {}
    scaling: dict[str, Any] = {
        "configuration": plan.scaling_configuration,
        "by_invocations": [],
        "by_artifact_bytes": [],
    }
    pipeline_wall: float | None = None

    def on_progress(label: str, done: int, total: int, elapsed: float, final: bool) -> None:
        progress.update(label, done, total, elapsed, final=final)

    with contextlib.ExitStack() as cloud:
        with stage("local cloud, deploy, seed"):
            if cloud_info is None:
                info = cloud.enter_context(local_cloud_process(local_cloud_config(port=0, api_port=0)))
                cloud.callback(log, "== stop the local cloud")
            else:
                info = cloud_info
            assert info.database_url, "the local cloud starts PostgreSQL"
            clients = LocalClients(info.endpoint_url, info.region, max_pool_connections=20)
            deployment = deploy(clients, settings, database_url=info.database_url)
            ref = seed(settings, clients("s3"), info.database_url, plan.artifact_bytes)
            log(f"   {info.endpoint_url}; {ref.model_id} {ref.version}: {ref.size:,} bytes")
        setup_s = stage.durations["local cloud, deploy, seed"]
        store = ResultsStore(clients("dynamodb"), settings.invocations_table, settings.runs_table)
        ctx = PipelineContext(clients, deployment, store, settings, info.pid)
        profile_dir = plan.out / "profiles" if plan.profile else None

        def window(name: str) -> ProfileWindow:
            """A CPU-budget window (py-spy too with ``--profile``) on this run's local cloud."""
            return ProfileWindow(name, profile_dir, info.pid)

        if plan.reference and plan.concurrencies:
            with stage("loopback reference"):
                reference = measure_reference(
                    plan.artifact_bytes, list(plan.concurrencies), plan.rounds, cpus, log, plan.wrk_duration_s
                )

        if plan.layouts and plan.concurrencies:
            with stage("data path"):
                began = time.monotonic()

                def data_progress(label: str, round_index: int, rounds: int) -> None:
                    started = round_index + 1  # rounds started; every client is warm by the first
                    progress.update(label, started, rounds, time.monotonic() - began, final=started == rounds)

                target = DataPathTarget(
                    env=info.env(),
                    settings={"database_url": info.database_url},
                    model_id=ref.model_id,
                    version=ref.version,
                )
                datapath = measure_datapath(
                    target,
                    list(plan.concurrencies),
                    plan.rounds,
                    reference.get("levels") or {},
                    plan.layouts,
                    log,
                    data_progress,
                    window,
                )

        if plan.configurations:
            with stage("pipeline"):
                began = time.monotonic()
                for name in plan.configurations:
                    compute, storage = split_configuration(name)
                    pipeline[name] = run_configuration(
                        ctx, ref, compute, storage, plan.invocations, name, on_progress, log, window(name)
                    )
                pipeline_wall = round(time.monotonic() - began, 1)

        if plan.scaling_configuration and (plan.scaling_invocations or plan.scaling_artifact_bytes):
            with stage(f"scaling ({plan.scaling_configuration})"):
                compute, storage = split_configuration(plan.scaling_configuration)
                reusable = pipeline.get(plan.scaling_configuration)
                for n in plan.scaling_invocations:
                    if reusable is not None and n == plan.invocations:
                        point = {**reusable, "from": "pipeline"}
                    else:
                        point = run_configuration(ctx, ref, compute, storage, n, f"N={n}", on_progress, log)
                    scaling["by_invocations"].append(point)
                for size in plan.scaling_artifact_bytes:
                    same = [p for p in scaling["by_invocations"] if p["invocations"] == plan.invocations]
                    if size == ref.size and same:
                        scaling["by_artifact_bytes"].append({**same[0], "from": "by_invocations"})
                        continue
                    sized = seed(settings, clients("s3"), info.database_url, size)
                    label = f"{size / 1e6:g}MB"
                    point = run_configuration(
                        ctx, sized, compute, storage, plan.invocations, label, on_progress, log
                    )
                    scaling["by_artifact_bytes"].append(point)
                scaling["by_artifact_bytes"].sort(key=lambda p: p["artifact_bytes"])

    machine["loadavg_end"] = _loadavg()
    four = set(plan.configurations) == set(DEFAULT_CONFIGURATIONS)
    bench_equivalent = round(setup_s + pipeline_wall, 1) if four and pipeline_wall is not None else None
    doc = output.document(
        machine=machine,
        plan={**plan.to_json(), "stages_s": stage.durations},
        reference=reference,
        datapath=datapath,
        pipeline=pipeline,
        bench_equivalent_s=bench_equivalent,
        scaling=scaling,
        date=datetime.now(UTC).isoformat(timespec="seconds"),
        perf_wall_s=time.monotonic() - started,
    )
    path = output.write_json(plan.out, doc)
    plot = output.plot_scaling(scaling, plan.out)
    written = [str(p) for p in (plot, output.write_profile_md(plan.out, doc) if plan.profile else None) if p]
    log("")
    log(output.format_tables(doc))
    log(f"wrote {path}" + "".join(f" and {p}" for p in written) + f" ({doc['perf_wall_s']:.0f} s)")
    failed = sum(int(level.get("failed") or 0) for levels in datapath.values() for level in levels.values())
    failed += sum(int(run.get("failed") or 0) for run in pipeline.values())
    failed += sum(
        int(p.get("failed") or 0) for key in ("by_invocations", "by_artifact_bytes") for p in scaling[key]
    )
    return 0 if failed == 0 else 1
