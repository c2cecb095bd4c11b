"""The data path alone: perflab's real download code against the local cloud, outside Step Functions.

Each client is one worker process standing in for one warm execution environment: it builds its store
exactly as an invocation does (:func:`perflab.invocation.choose_store`: the shared S3 client with the
run's pool size, or the PostgreSQL store with its cached connection), looks the artifact up in the
registry, downloads it once untimed (warm: connection open, caches filled), then runs
:func:`perflab.download.download` (stream, sha256 in the same pass, verify) once per round, all
clients released together (:func:`perflab.perf.harness.run_rounds`). Nothing is written to DynamoDB:
the record write is off the timed path in the workload too (``perflab.invocation.run``).

Layouts: ``s3`` (one streamed GetObject), ``rds_chunks`` (1 MiB ``bytea`` rows) and
``rds_large_object``. Each worker also reports its peak resident set above its resident set before
it built the store (:class:`~perflab.perf.harness.WorkerStats`): one download's memory above its
interpreter.
"""

from __future__ import annotations

import os
from collections.abc import Callable, Mapping
from dataclasses import dataclass, field
from typing import Any

from perflab.config import RunRequest, load_settings
from perflab.download import InvocationContext, download
from perflab.invocation import choose_store
from perflab.perf.harness import Operation, RoundsResult, Sample, run_rounds
from perflab.perf.measure import summarize_level
from perflab.perf.profile import ProfileWindow
from perflab.storage import pg
from perflab.storage.base import RdsLayout
from perflab.storage.registry import lookup
from perflab.storage.s3 import forget_shared_clients

#: perf.json key -> (storage, rds_layout) of the run request.
LAYOUTS: dict[str, tuple[str, RdsLayout]] = {
    "s3": ("s3", "chunks"),
    "rds_chunks": ("rds", "chunks"),
    "rds_large_object": ("rds", "large_object"),
}
MiB = 1 << 20


@dataclass(frozen=True)
class DataPathTarget:
    """Where the artifact is and how the environments are configured (all picklable)."""

    env: Mapping[str, str]
    settings: Mapping[str, Any]
    model_id: str
    version: str
    request_options: Mapping[str, Any] = field(default_factory=dict)


class DownloadClient:
    """One warm environment: the real store, the registry's ref, one untimed warm-up download."""

    def __init__(self, target: DataPathTarget, layout: str, index: int) -> None:
        os.environ.update(target.env)
        forget_shared_clients()  # forked: never the parent's S3 client (its pool, its credentials)
        settings = load_settings(**target.settings)
        storage, rds_layout = LAYOUTS[layout]
        request = RunRequest.from_input(
            {
                "compute": "lambda",
                "storage": storage,
                "rds_layout": rds_layout,
                "model_id": target.model_id,
                "version": target.version,
                **target.request_options,
            },
            settings,
        )
        assert settings.database_url is not None, "the data path needs the stack's PostgreSQL"
        self.store = choose_store(request, settings)
        self.ref = lookup(
            settings.database_url.get_secret_value(), target.model_id, target.version, rds_layout
        )
        self.ctx = InvocationContext(
            run_id="perf-datapath",
            index=index,
            compute="local",
            storage=storage,
            environment_id=f"perf-{os.getpid()}",
            cold_start=False,
        )
        warm = self(-1)
        if not warm.ok:
            raise RuntimeError(f"warm-up download failed: {warm.error}")

    def __call__(self, round_index: int) -> Sample:
        result = download(self.store, self.ref, self.ctx)
        return Sample(
            round=round_index,
            started_at=result.started_at,
            finished_at=result.finished_at,
            latency_ms=result.latency_ms,
            ttfb_ms=result.ttfb_ms,
            bytes=result.bytes,
            ok=result.succeeded,
            error=None if result.succeeded else f"{result.error_type}: {result.error_message}",
        )


def measure_layout(
    target: DataPathTarget,
    layout: str,
    concurrency: int,
    rounds: int,
    reference_mb_s: float | None,
    on_round: Callable[[int], None] | None = None,
    window: ProfileWindow | None = None,
) -> tuple[dict[str, Any], RoundsResult]:
    """One layout at one concurrency: the level's figures (see :func:`summarize_level`) + memory.
    ``on_round(r)`` is called as round ``r`` is released (every client is warm from ``r = 0``).
    ``window``: opened as the first round is released, closed once every client has finished; its
    CPU budget (and profiles) become the level's ``cpu_budget``."""

    def factory(index: int) -> Operation:
        return DownloadClient(target, layout, index)

    def released(r: int) -> None:
        if window is not None and r == 0:
            window.start(profile_clients=True)
        if on_round is not None:
            on_round(r)

    try:
        result = run_rounds(
            factory,
            concurrency,
            rounds,
            on_round=released,
            on_finished=None if window is None else window.stop,
        )
    finally:
        if window is not None:
            window.stop()  # a round that failed never reached on_finished: no py-spy left running
    level = summarize_level(result.samples, concurrency, reference_mb_s)
    if window is not None and window.result:
        level["cpu_budget"] = window.result
    if result.samples and result.workers:
        level["client_cpu_ms"] = round(
            sum(w.rounds_cpu_s for w in result.workers) * 1000 / len(result.samples), 1
        )
    if result.workers:
        worst = max(result.workers, key=lambda m: m.above_baseline_bytes)
        level["worker_rss_mb"] = round(worst.baseline_rss_bytes / MiB, 1)
        level["worker_peak_rss_mb"] = round(worst.peak_rss_bytes / MiB, 1)
        level["download_rss_above_interpreter_mb"] = round(worst.above_baseline_bytes / MiB, 1)
    errors = result.errors + [s.error for s in result.samples if s.error]
    if errors:
        level["errors"] = errors[:3]
    return level, result


def measure_datapath(
    target: DataPathTarget,
    concurrencies: list[int],
    rounds: int,
    reference: Mapping[str, Mapping[str, Any]],
    layouts: tuple[str, ...] = tuple(LAYOUTS),
    log: Callable[[str], None] = print,
    progress: Callable[[str, int, int], None] | None = None,
    window: Callable[[str], ProfileWindow] | None = None,
) -> dict[str, dict[str, Any]]:
    """Every layout at every concurrency: ``{layout: {"c<N>": level}}`` with ratios to the
    reference measured at the same concurrency (``reference["c<N>"]["mb_s"]``). ``progress(label,
    round, rounds)`` is called as each round of a level starts (round 0 once every client is warm).
    ``window(label)``: a profile window for each layout's highest concurrency."""
    # Workers are forked: none may inherit this process's cached PostgreSQL connection (its socket).
    pg.close_all()
    out: dict[str, dict[str, Any]] = {}
    for layout in layouts:
        out[layout] = {}
        for c in concurrencies:
            ref = reference.get(f"c{c}", {}).get("mb_s")
            label = f"{layout} c{c}"

            def on_round(r: int, label: str = label) -> None:
                if progress is not None:
                    progress(label, r, rounds)

            top = window is not None and c == max(concurrencies)
            level, _ = measure_layout(
                target, layout, c, rounds, ref, on_round, window(label) if window and top else None
            )
            out[layout][f"c{c}"] = level
            log(
                f"  {layout:<17} c{c:<4} {level['mb_s'] or 0:8,.0f} MB/s  ratio {level['ratio'] or 0:.2f}  "
                f"p50 {level['p50_ms'] or 0:8,.1f} ms  p99 {level['p99_ms'] or 0:8,.1f} ms"
                + (f"  FAILED {level['failed']}" if level["failed"] else "")
            )
    return out
