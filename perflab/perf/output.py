"""``perf.json``, the printed table and the time-vs-N plot. The document is built by pure functions.

``perf.json`` (schema ``perflab.perf/1``)::

    {"schema", "source", "date", "machine": {... "loadavg_start", "loadavg_end"}, "plan": {...},
     "reference_mb_s": <the reference at the highest concurrency>,
     "reference": {"server", "clients", "bytes", "levels": {"c1": {...}, ...}},
     "datapath": {"s3" | "rds_chunks" | "rds_large_object": {"c1": {mb_s, ratio, p50_ms, p99_ms,
                  rounds_mb_s, samples, failed, client_cpu_ms, download_rss_above_interpreter_mb, ...}}},
     "download_peak_rss_mb": <largest peak RSS of one download above its interpreter, any layout>,
     "pipeline": {"lambda-s3": {wall_s, all_running_s, scheduling_delay_p50_ms, ..., cost_usd}, ...},
     "bench_equivalent_s": <stack start + deploy + seed + the four pipeline runs: make bench's work>,
     "scaling": {"configuration", "by_invocations": [...], "by_artifact_bytes": [...]},
     "targets": [{"name", "target", "value", "met"}], "perf_wall_s"}

The highest data-path level of each layout and each pipeline run also carry ``cpu_budget``
(:class:`perflab.perf.profile.ProfileWindow`): the window's CPU capacity, busy CPU-seconds and
CPU-seconds by process role, plus py-spy summaries with ``--profile`` (then also ``profile.md``).
"""

from __future__ import annotations

import json
from collections.abc import Mapping, Sequence
from pathlib import Path
from typing import Any

from perflab.perf.measure import meets
from perflab.perf.profile import format_budget

SCHEMA = "perflab.perf/1"
#: The issue's targets (ratios are to the reference measured in the same run).
S3_RATIO_TARGET = 0.9
RDS_CHUNKS_RATIO_TARGET = 0.8
DOWNLOAD_RSS_TARGET_MB = 64.0
ALL_RUNNING_TARGET_S = 2.0
BENCH_WALL_TARGET_S = 180.0


def _top(levels: Mapping[str, Mapping[str, Any]]) -> Mapping[str, Any]:
    """The level with the highest concurrency (``c100`` by default)."""
    if not levels:
        return {}
    key = max(levels, key=lambda k: int(levels[k].get("concurrency") or k.removeprefix("c")))
    return levels[key]


def download_peak_rss_mb(datapath: Mapping[str, Mapping[str, Mapping[str, Any]]]) -> float | None:
    values = [
        float(level["download_rss_above_interpreter_mb"])
        for levels in datapath.values()
        for level in levels.values()
        if level.get("download_rss_above_interpreter_mb") is not None
    ]
    return max(values) if values else None


def targets(
    datapath: Mapping[str, Mapping[str, Mapping[str, Any]]],
    pipeline: Mapping[str, Mapping[str, Any]],
    rss_mb: float | None,
    bench_wall_s: float | None,
) -> list[dict[str, Any]]:
    """The issue's targets with the measured value and whether it was met (``None``: not measured)."""
    s3_top = _top(datapath.get("s3", {}))
    chunks_top = _top(datapath.get("rds_chunks", {}))
    s3, chunks = s3_top.get("ratio"), chunks_top.get("ratio")
    warm_lambda = [
        float(run["all_running_s"])
        for run in pipeline.values()
        if run.get("compute") == "lambda"
        and run.get("cold_starts") == 0
        and run.get("all_running_s") is not None
    ]
    all_running = max(warm_lambda) if warm_lambda else None
    return [
        {
            "name": f"s3 ratio at c{s3_top.get('concurrency', 100)}",
            "target": f">= {S3_RATIO_TARGET}",
            "value": s3,
            "met": meets(s3, S3_RATIO_TARGET),
        },
        {
            "name": f"rds_chunks ratio at c{chunks_top.get('concurrency', 100)}",
            "target": f">= {RDS_CHUNKS_RATIO_TARGET}",
            "value": chunks,
            "met": meets(chunks, RDS_CHUNKS_RATIO_TARGET),
        },
        {
            "name": "one download's peak RSS above its interpreter (MB)",
            "target": f"<= {DOWNLOAD_RSS_TARGET_MB:g}",
            "value": rss_mb,
            "met": meets(rss_mb, DOWNLOAD_RSS_TARGET_MB, at_most=True),
        },
        {
            "name": "all invocations running after MapRunStarted, warm Lambda (s)",
            "target": f"<= {ALL_RUNNING_TARGET_S:g}",
            "value": None if all_running is None else round(all_running, 3),
            "met": meets(all_running, ALL_RUNNING_TARGET_S, at_most=True),
        },
        {
            "name": "make bench equivalent: stack, deploy, seed, four runs (s)",
            "target": f"<= {BENCH_WALL_TARGET_S:g}",
            "value": bench_wall_s,
            "met": meets(bench_wall_s, BENCH_WALL_TARGET_S, at_most=True),
        },
    ]


def document(
    *,
    machine: Mapping[str, Any],
    plan: Mapping[str, Any],
    reference: Mapping[str, Any],
    datapath: Mapping[str, Mapping[str, Mapping[str, Any]]],
    pipeline: Mapping[str, Mapping[str, Any]],
    bench_equivalent_s: float | None,
    scaling: Mapping[str, Any],
    date: str,
    perf_wall_s: float,
) -> dict[str, Any]:
    levels = reference.get("levels") or {}
    rss = download_peak_rss_mb(datapath)
    return {
        "schema": SCHEMA,
        "source": "local",
        "date": date,
        "machine": dict(machine),
        "plan": dict(plan),
        "reference_mb_s": _top(levels).get("mb_s"),
        "reference": dict(reference),
        "datapath": {k: dict(v) for k, v in datapath.items()},
        "download_peak_rss_mb": rss,
        "pipeline": {k: dict(v) for k, v in pipeline.items()},
        "bench_equivalent_s": bench_equivalent_s,
        "scaling": dict(scaling),
        "targets": targets(datapath, pipeline, rss, bench_equivalent_s),
        "perf_wall_s": round(perf_wall_s, 1),
    }


def write_json(out: Path, doc: Mapping[str, Any]) -> Path:
    out.mkdir(parents=True, exist_ok=True)
    path = out / "perf.json"
    path.write_text(json.dumps(doc, indent=2) + "\n")
    return path


# --- the table ---------------------------------------------------------------------------------------


def _n(value: Any, fmt: str = ",.0f") -> str:
    if value is None:
        return "—"
    if isinstance(value, bool):
        return "yes" if value else "no"
    if isinstance(value, int | float):
        return format(value, fmt)
    return str(value)


def _table(header: Sequence[str], rows: Sequence[Sequence[str]]) -> list[str]:
    widths = [max(len(str(c)) for c in col) for col in zip(header, *rows, strict=True)]

    def line(cells: Sequence[str]) -> str:
        padded = (
            str(c).rjust(w) if i else str(c).ljust(w)
            for i, (c, w) in enumerate(zip(cells, widths, strict=True))
        )
        return "  ".join(padded)

    return [line(header), line(["-" * w for w in widths]), *(line(r) for r in rows)]


def format_tables(doc: Mapping[str, Any]) -> str:
    """The perf tables as plain text (also what ``perflab perf`` prints)."""
    out: list[str] = []
    ref = doc.get("reference") or {}
    out.append(
        f"Loopback reference: {ref.get('server')} server, clients {', '.join(ref.get('clients') or [])}; "
        f"{_n(ref.get('bytes'))} bytes per GET"
    )
    rows = []
    for key, level in (ref.get("levels") or {}).items():
        clients = level.get("clients") or {}
        rows.append(
            [
                key,
                _n(level.get("mb_s")),
                str(level.get("client")),
                *(_n((clients.get(c) or {}).get("mb_s")) for c in ("wrk", "socket")),
                _n(level.get("p50_ms"), ",.1f"),
                _n(level.get("p99_ms"), ",.1f"),
            ]
        )
    out += _table(["level", "MB/s", "best", "wrk MB/s", "socket MB/s", "p50 ms", "p99 ms"], rows)
    out.append("")
    out.append("Data path (perflab.download, warm, outside Step Functions)")
    rows = []
    for layout, levels in (doc.get("datapath") or {}).items():
        for key, level in levels.items():
            rows.append(
                [
                    layout,
                    key,
                    _n(level.get("mb_s")),
                    _n(level.get("ratio"), ".2f"),
                    _n(level.get("p50_ms"), ",.1f"),
                    _n(level.get("p99_ms"), ",.1f"),
                    _n(level.get("client_cpu_ms"), ",.1f"),
                    _n(level.get("download_rss_above_interpreter_mb"), ",.1f"),
                    _n(level.get("failed")),
                ]
            )
    out += _table(
        ["layout", "level", "MB/s", "ratio", "p50 ms", "p99 ms", "cpu ms/dl", "RSS+ MB", "failed"], rows
    )
    out.append("")
    out.append("Pipeline (one run per configuration)")
    rows = []
    for name, run in (doc.get("pipeline") or {}).items():
        rows.append(_pipeline_row(name, run))
    out += _table(PIPELINE_HEADER, rows)
    scaling = doc.get("scaling") or {}
    points = [*(scaling.get("by_invocations") or []), *(scaling.get("by_artifact_bytes") or [])]
    if points:
        out.append("")
        out.append(f"Scaling ({scaling.get('configuration')})")
        out += _table(PIPELINE_HEADER, [_pipeline_row(_point_name(p), p) for p in points])
    budgets = budget_lines(doc, profiles=False)
    if budgets:
        out.append("")
        out.append("CPU budget of each measured window (CPU-seconds by process role)")
        out += budgets
    out.append("")
    out.append("Targets")
    out += _table(
        ["target", "wanted", "measured", "met"],
        [[t["name"], t["target"], _n(t["value"], ",.3g"), _n(t["met"])] for t in doc.get("targets") or []],
    )
    return "\n".join(out) + "\n"


def _windows(doc: Mapping[str, Any]) -> list[tuple[str, Mapping[str, Any]]]:
    found: list[tuple[str, Mapping[str, Any]]] = []
    for layout, levels in (doc.get("datapath") or {}).items():
        for key, level in levels.items():
            if level.get("cpu_budget"):
                found.append((f"data path {layout} {key}", level["cpu_budget"]))
    for name, run in (doc.get("pipeline") or {}).items():
        if run.get("cpu_budget"):
            found.append((f"pipeline {name} ({run.get('run_id')})", run["cpu_budget"]))
    return found


def budget_lines(doc: Mapping[str, Any], profiles: bool = True) -> list[str]:
    """Every window's budget; with ``profiles`` also its py-spy summaries."""
    lines: list[str] = []
    for name, budget in _windows(doc):
        shown = budget if profiles else {k: v for k, v in budget.items() if k != "profiles"}
        lines += format_budget(name, shown)
    return lines


def write_profile_md(out: Path, doc: Mapping[str, Any]) -> Path:
    """``profile.md``: each window's CPU budget and profiles, with the run that produced them."""
    machine = doc.get("machine") or {}
    text = [
        "# perflab perf: CPU budgets and profiles (source: local)",
        "",
        f"Run of {doc.get('date')} on {machine.get('cpus')} CPUs, {machine.get('platform')}, "
        f"Python {machine.get('python')}, moto {machine.get('moto')}; plan in `perf.json`. Each window "
        "is one measured level or run; py-spy sampled the local cloud's server process (and one "
        "download client) at 100 Hz without pausing them, only while a thread was running; collapsed "
        "stacks are in `profiles/`. A C call is shown at the Python line that made it.",
        "",
        "```",
        *budget_lines(doc, profiles=True),
        "```",
        "",
    ]
    out.mkdir(parents=True, exist_ok=True)
    path = out / "profile.md"
    path.write_text("\n".join(text))
    return path


PIPELINE_HEADER = [
    "run",
    "N",
    "MB",
    "ok",
    "wall s",
    "all run s",
    "sched p50",
    "sched p99",
    "p50 ms",
    "p99 ms",
    "cold",
    "overhead s",
    "$/1000",
    "stack MB",
    "proc MB",
]


def _point_name(point: Mapping[str, Any]) -> str:
    return f"N={point.get('invocations')} {point.get('artifact_bytes', 0) / 1e6:g} MB"


def _pipeline_row(name: str, run: Mapping[str, Any]) -> list[str]:
    return [
        name,
        _n(run.get("invocations")),
        _n((run.get("artifact_bytes") or 0) / 1e6, ",.1f"),
        f"{_n(run.get('succeeded'))}/{_n(run.get('invocations'))}",
        _n(run.get("wall_s"), ",.2f"),
        _n(run.get("all_running_s"), ",.2f"),
        _n(run.get("scheduling_delay_p50_ms"), ",.0f"),
        _n(run.get("scheduling_delay_p99_ms"), ",.0f"),
        _n(run.get("latency_p50_ms"), ",.0f"),
        _n(run.get("latency_p99_ms"), ",.0f"),
        _n(run.get("cold_starts")),
        _n(run.get("orchestration_overhead_s"), ",.2f"),
        _n(run.get("cost_per_1000_usd"), ".4f"),
        _n(run.get("stack_peak_pss_mb")),
        _n(run.get("largest_process_rss_mb")),
    ]


# --- the plot ----------------------------------------------------------------------------------------


def plot_scaling(scaling: Mapping[str, Any], out: Path) -> Path | None:
    """``scaling.png``: wall time and p50/p99 latency vs N (log x), and vs artifact size."""
    by_n = [p for p in scaling.get("by_invocations") or [] if p.get("wall_s") is not None]
    by_size = [p for p in scaling.get("by_artifact_bytes") or [] if p.get("wall_s") is not None]
    if not by_n and not by_size:
        return None
    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt

    fig, axes = plt.subplots(1, 2, figsize=(11, 4.2))
    panels = [
        (axes[0], by_n, "invocations", "N (invocations, log scale)"),
        (axes[1], by_size, "artifact_bytes", "artifact size (MB)"),
    ]
    for ax, points, key, xlabel in panels:
        if not points:
            ax.set_visible(False)
            continue
        xs = [float(p[key]) / (1e6 if key == "artifact_bytes" else 1) for p in points]
        for metric, label, style in (
            ("wall_s", "execution wall", "o-"),
            ("latency_p99_ms", "download p99", "s--"),
            ("latency_p50_ms", "download p50", "^:"),
            ("all_running_s", "all running after MapRunStarted", "d-."),
        ):
            ys = [p.get(metric) for p in points]
            if any(y is None for y in ys):
                continue
            values = [float(y) / (1000.0 if metric.endswith("_ms") else 1.0) for y in ys]
            ax.plot(xs, values, style, label=label)
        if key == "invocations":
            ax.set_xscale("log")
        ax.set_xlabel(xlabel)
        ax.set_ylabel("seconds")
        ax.grid(True, alpha=0.3)
        ax.legend(fontsize=8)
    config = scaling.get("configuration", "")
    fixed_size = (by_n[0].get("artifact_bytes", 0) / 1e6) if by_n else None
    fixed_n = by_size[0].get("invocations") if by_size else None
    axes[0].set_title(f"{config}: time vs N" + (f" ({fixed_size:g} MB)" if fixed_size else ""))
    axes[1].set_title(f"{config}: time vs size" + (f" (N={fixed_n})" if fixed_n else ""))
    fig.text(0.99, 0.01, "source: local (perflab perf)", ha="right", fontsize=7, color="grey")
    fig.tight_layout()
    out.mkdir(parents=True, exist_ok=True)
    path = out / "scaling.png"
    fig.savefig(path, dpi=110)
    plt.close(fig)
    return path
