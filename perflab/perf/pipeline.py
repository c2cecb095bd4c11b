"""The full pipeline, one run per configuration: what a run costs beyond its downloads.

Each run is started and followed exactly as ``perflab bench`` does it (:func:`perflab.runs.start_run`,
:func:`perflab.runs.wait_for_run`, the request from :func:`perflab.bench.request_input`, transitions
counted by :func:`perflab.bench.counted_transitions`), on the same deployment. Per run:

- ``wall_s``: the execution's start to stop;
- ``all_running_s``: ``MapRunStarted`` (parent history) until the last invocation's handler started
  (:func:`perflab.local.smoke.all_running_after`, the smoke benchmark's measure);
- ``scheduling_delay_ms``: p50/p99 of dispatch (the child's Task state entered) to handler start;
- ``cold_starts``, latency p50/p99 and throughput from the run summary;
- ``cost_usd`` / ``cost_per_1000_usd``: :func:`perflab.report.cost.run_cost` at the shipped prices;
- ``orchestration_overhead_s``: wall time minus the slowest invocation's download (what Step Functions,
  dispatch, start-up and the record writes added to the critical path);
- ``stack_peak_pss_mb`` / ``stack_peak_rss_mb``: the whole local cloud's process group, its resident
  sets sampled every 0.25 s, its PSS every 5 s (:class:`perflab.local.procstats.PeakMemorySampler`);
  ``largest_process_rss_mb``: the largest single process other than the stack's own and
  PostgreSQL's (a Lambda environment, an ECS task, or the fork server / spawner they come from: they
  all hold the preloaded libraries).
"""

from __future__ import annotations

import contextlib
from collections.abc import Callable
from dataclasses import dataclass
from typing import Any

from perflab.bench import BenchPlan, counted_transitions, request_input
from perflab.config import RunRequest, Settings
from perflab.deploy import DOWNLOAD_MEMORY_MB, TASK_MEMORY_GB, TASK_VCPU, Deployment
from perflab.history import history
from perflab.local.procstats import PeakMemorySampler
from perflab.local.smoke import all_running_after, map_run_started_at
from perflab.perf.measure import orchestration_overhead_s
from perflab.perf.profile import ProfileWindow
from perflab.report.cost import load_prices, run_cost
from perflab.results import ResultsStore
from perflab.runs import start_run, wait_for_run
from perflab.storage.base import ArtifactRef

MiB = 1 << 20
ClientFactory = Callable[[str], Any]
Progress = Callable[[str, int, int, float, bool], None]


@dataclass(frozen=True)
class PipelineContext:
    """Everything a run needs from the stack the perf command started."""

    clients: ClientFactory
    deployment: Deployment
    store: ResultsStore
    settings: Settings
    stack_pid: int


def _stat(summary: dict[str, Any], key: str, stat: str) -> float | None:
    block = summary.get(key)
    if not isinstance(block, dict):
        return None
    value = block.get(stat)
    return None if value is None else round(float(value), 2)


def run_configuration(
    ctx: PipelineContext,
    ref: ArtifactRef,
    compute: str,
    storage: str,
    invocations: int,
    label: str,
    progress: Progress | None = None,
    log: Callable[[str], None] = print,
    window: ProfileWindow | None = None,
) -> dict[str, Any]:
    """One run of ``compute`` x ``storage`` with ``invocations`` downloads of ``ref``; its figures.
    ``window``: open from the start of the run until it ended; its CPU budget (and profile of the
    local cloud's server process) become the run's ``cpu_budget``."""
    plan = BenchPlan(
        computes=(compute,),
        storages=(storage,),
        invocations=invocations,
        artifact_bytes=ref.size,
        label=label,
    )
    request = RunRequest.from_input(
        request_input(plan, compute, storage, ref.model_id, ref.version), ctx.settings
    )
    sampler = PeakMemorySampler(ctx.stack_pid, exclude_pids={ctx.stack_pid}, exclude_names={"postgres"})

    def on_progress(done: int, total: int, elapsed: float) -> None:
        if progress is not None:
            progress(label, done, total, elapsed, False)

    with sampler, window.around() if window is not None else contextlib.nullcontext():
        execution_arn = start_run(ctx.clients, ctx.deployment, ctx.store, request)
        summary = wait_for_run(ctx.clients, ctx.store, request, execution_arn, on_progress=on_progress)
    records = ctx.store.invocations(request.run_id)
    if progress is not None:
        progress(label, len(records), invocations, float(summary.get("wall_s") or 0.0), True)
    summary = {**summary, **counted_transitions(ctx.clients, execution_arn, log)}
    rows = [r.to_row() for r in records]
    cost = run_cost(
        summary,
        rows,
        load_prices(),
        lambda_memory_mb=DOWNLOAD_MEMORY_MB,
        task_vcpu=TASK_VCPU,
        task_memory_gb=TASK_MEMORY_GB,
    )
    map_started = map_run_started_at(history(ctx.clients("stepfunctions"), execution_arn, include_data=False))
    starts = [r.started_at for r in records]
    latencies = [r.latency_ms for r in records if r.succeeded]
    wall = summary.get("wall_s")
    all_running = all_running_after(map_started, starts, invocations)
    overhead = orchestration_overhead_s(None if wall is None else float(wall), latencies)
    counts = summary.get("invocations") or {}
    return {
        "run_id": request.run_id,
        "compute": compute,
        "storage": storage,
        "status": summary.get("status"),
        "invocations": invocations,
        "artifact_bytes": ref.size,
        "succeeded": counts.get("succeeded"),
        "failed": counts.get("failed"),
        "wall_s": None if wall is None else round(float(wall), 3),
        "all_running_s": None if all_running is None else round(all_running, 3),
        "scheduling_delay_p50_ms": _stat(summary, "scheduling_delay_ms", "median"),
        "scheduling_delay_p99_ms": _stat(summary, "scheduling_delay_ms", "p99"),
        "latency_p50_ms": _stat(summary, "latency_ms", "median"),
        "latency_p99_ms": _stat(summary, "latency_ms", "p99"),
        "slowest_ms": round(max(latencies), 2) if latencies else None,
        "throughput_mb_s": None
        if summary.get("throughput_mb_s") is None
        else round(float(summary["throughput_mb_s"]), 1),
        "cold_starts": summary.get("cold_starts"),
        "transitions": summary.get("transitions"),
        "cost_usd": round(cost.total, 6),
        "cost_per_1000_usd": None if cost.per_1000_downloads is None else round(cost.per_1000_downloads, 6),
        "orchestration_overhead_s": None if overhead is None else round(overhead, 3),
        "stack_peak_pss_mb": round(sampler.peak_pss_bytes / MiB, 1),
        "stack_peak_rss_mb": round(sampler.peak_rss_bytes / MiB, 1),
        "stack_peak_processes": sampler.peak_processes,
        "largest_process_rss_mb": round(sampler.peak_largest_rss_bytes / MiB, 1),
        "errors_by_type": summary.get("errors_by_type") or {},
        **({"cpu_budget": window.result} if window is not None and window.result else {}),
    }
