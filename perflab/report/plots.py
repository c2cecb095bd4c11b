"""The report's plots (PNG): latency CDF, per-invocation timelines, throughput bars, cost per 1,000 downloads.

Every figure is a ``matplotlib.figure.Figure`` on its own ``FigureCanvasAgg`` — never pyplot's global
state — so rendering is headless and thread-safe and leaves no figures open. Each title says what is
shown and where the numbers come from (``source``, e.g. ``"local, run-…, 2 vCPU"``); figures from a
local run carry a "local" stamp, because local init times and network are not AWS's.
"""

from __future__ import annotations

import math
import re
from collections.abc import Iterable, Mapping, Sequence
from pathlib import Path
from typing import Any

from matplotlib.axes import Axes
from matplotlib.backends.backend_agg import FigureCanvasAgg
from matplotlib.figure import Figure
from matplotlib.lines import Line2D
from matplotlib.patches import Patch
from matplotlib.ticker import MaxNLocator

from perflab.report.files import load_invocations, load_summary
from perflab.stats import percentile

__all__ = [
    "CONFIG_ORDER",
    "DPI",
    "FIGSIZE",
    "configuration",
    "cost_bars",
    "latency_cdf",
    "load_invocations",
    "render_all",
    "throughput_bars",
    "timeline",
]

FIGSIZE: tuple[float, float] = (8.0, 4.5)
DPI = 120
#: The 2x2 in a fixed order with fixed colours, so every figure reads the same way.
CONFIG_ORDER: tuple[str, ...] = ("lambda-s3", "lambda-rds", "ecs-s3", "ecs-rds")
_CONFIG_COLOURS = {
    "lambda-s3": "#1f77b4",
    "lambda-rds": "#17becf",
    "ecs-s3": "#d62728",
    "ecs-rds": "#ff7f0e",
}
_EXTRA_COLOURS = ("#2ca02c", "#9467bd", "#8c564b", "#e377c2", "#7f7f7f", "#bcbd22")
#: Log x axis on the CDF when the largest latency is more than this many times the smallest.
LOG_SPREAD = 20.0

_WAIT = "#c7c7c7"
_WAIT_COLD = "#fdd0a2"
_INIT = "#e6550d"
_TTFB = "#6baed6"
_TRANSFER = "#2171b5"
_FAILED = "#d62728"
_TITLE: dict[str, Any] = {"fontsize": 12, "fontweight": "bold", "loc": "left"}


# ---------------------------------------------------------------- helpers


def configuration(row: Mapping[str, Any]) -> str:
    """``compute-storage`` of an invocation row or a summary run."""
    return f"{row.get('compute')}-{row.get('storage')}"


def _ordered(configs: Iterable[str]) -> list[str]:
    seen = list(dict.fromkeys(configs))
    known = [c for c in CONFIG_ORDER if c in seen]
    return known + [c for c in seen if c not in CONFIG_ORDER]


def _colour(config: str, configs: Sequence[str]) -> str:
    if config in _CONFIG_COLOURS:
        return _CONFIG_COLOURS[config]
    extras = [c for c in configs if c not in _CONFIG_COLOURS]
    index = extras.index(config) if config in extras else 0
    return _EXTRA_COLOURS[index % len(_EXTRA_COLOURS)]


def _is_local(source: str) -> bool:
    return source.strip().lower().startswith("local")


def _new_figure(title: str, source: str) -> tuple[Figure, Axes]:
    fig = Figure(figsize=FIGSIZE, dpi=DPI, layout="constrained")
    FigureCanvasAgg(fig)
    ax = fig.add_subplot()
    ax.set_title(title, **_TITLE)
    if source:
        fig.suptitle(f"Source: {source}", fontsize=9, color="#444444", x=0.01, ha="left")
    if _is_local(source):
        fig.text(
            0.995,
            0.995,
            "LOCAL — not AWS figures",
            ha="right",
            va="top",
            fontsize=8,
            fontweight="bold",
            color="#a50f15",
            bbox={"boxstyle": "round,pad=0.25", "facecolor": "#fee0d2", "edgecolor": "#a50f15"},
        )
    return fig, ax


def _save(fig: Figure, out_png: Path | str) -> Path:
    path = Path(out_png)
    path.parent.mkdir(parents=True, exist_ok=True)
    fig.savefig(path, dpi=DPI, format="png")
    return path


def _no_data(ax: Axes, message: str) -> None:
    ax.text(0.5, 0.5, message, transform=ax.transAxes, ha="center", va="center", fontsize=11, color="#666666")
    ax.set_xticks([])
    ax.set_yticks([])


def _failed(row: Mapping[str, Any]) -> bool:
    return bool(row.get("error")) or row.get("sha256_ok") is False


def _first(row: Mapping[str, Any], *keys: str) -> float | None:
    for key in keys:
        value = row.get(key)
        if value is not None:
            return float(value)
    return None


def _fmt_ms(value: float) -> str:
    return f"{value:,.0f} ms" if value >= 10 else f"{value:.1f} ms"


# ---------------------------------------------------------------- latency CDF


def latency_cdf(rows: Iterable[Mapping[str, Any]], out_png: Path | str, source: str = "") -> Path:
    """Empirical CDF of end-to-end latency, one line per configuration (successful invocations only);
    p50 (circle) and p99 (triangle) marked; log x axis when the spread exceeds ``LOG_SPREAD`` times."""
    by_config: dict[str, list[float]] = {}
    failed: dict[str, int] = {}
    for row in rows:
        config = configuration(row)
        by_config.setdefault(config, [])
        failed.setdefault(config, 0)
        latency = row.get("latency_ms")
        if _failed(row) or latency is None or not math.isfinite(latency):
            failed[config] += 1
        else:
            by_config[config].append(float(latency))
    configs = _ordered(by_config)

    fig, ax = _new_figure("Download latency CDF per configuration", source)
    samples = [v for c in configs for v in by_config[c]]
    if not samples:
        _no_data(ax, "no successful invocations to plot")
        return _save(fig, out_png)

    positive = [v for v in samples if v > 0]
    log_x = bool(positive) and len(positive) == len(samples) and max(positive) / min(positive) > LOG_SPREAD
    handles: list[Any] = []
    for config in configs:
        values = sorted(by_config[config])
        colour = _colour(config, configs)
        n = len(values)
        extra = f", {failed[config]} failed" if failed[config] else ""
        if not values:
            handles.append(
                Line2D([], [], color=colour, linestyle=":", label=f"{config}  n=0 (no successes{extra})")
            )
            continue
        fractions = [(i + 1) / n for i in range(n)]
        p50, p99 = percentile(values, 50.0), percentile(values, 99.0)
        (line,) = ax.step(
            values,
            fractions,
            where="post",
            color=colour,
            linewidth=2,
            label=f"{config}  n={n}{extra}  p50 {_fmt_ms(p50)}  p99 {_fmt_ms(p99)}",
        )
        handles.append(line)
        ax.plot([p50], [0.5], marker="o", markersize=8, color=colour, markeredgecolor="black", zorder=5)
        ax.plot([p99], [0.99], marker="^", markersize=9, color=colour, markeredgecolor="black", zorder=5)
    handles += [
        Line2D([], [], marker="o", linestyle="", color="white", markeredgecolor="black", label="p50"),
        Line2D([], [], marker="^", linestyle="", color="white", markeredgecolor="black", label="p99"),
    ]
    if log_x:
        ax.set_xscale("log")
    ax.set_ylim(0, 1.02)
    ax.set_xlabel("latency per download (ms" + (", log scale)" if log_x else ")"))
    ax.set_ylabel("fraction of downloads ≤ x")
    ax.grid(True, which="major", alpha=0.35)
    ax.legend(handles=handles, loc="lower right", fontsize=8, framealpha=0.9)
    return _save(fig, out_png)


# ---------------------------------------------------------------- timeline


def timeline(
    rows: Iterable[Mapping[str, Any]],
    out_png: Path | str,
    configuration_name: str,
    source: str = "",
    run_id: str | None = None,
) -> Path:
    """Gantt-style view of one configuration's invocations (one run: ``run_id`` or the first one seen):
    scheduled (dispatched_at) → started → first byte (started + ttfb) → done (finished_at), in seconds
    since the run's first dispatch; cold starts have an orange wait with their init time in dark orange,
    failed invocations are red."""
    mine = [r for r in rows if configuration(r) == configuration_name]
    runs = list(dict.fromkeys(r.get("run_id") for r in mine))
    chosen = run_id if run_id is not None else (runs[0] if runs else None)
    mine = [r for r in mine if r.get("run_id") == chosen]
    note = f" (run {chosen}; {len(runs)} runs in total)" if len(runs) > 1 else ""

    fig, ax = _new_figure(f"Invocation timeline — {configuration_name}{note}", source)
    t0_values = [t for t in (_first(r, "dispatched_at", "started_at") for r in mine) if t is not None]
    if not t0_values:
        _no_data(ax, f"no timed invocations for {configuration_name}")
        return _save(fig, out_png)
    t0 = min(t0_values)

    def key(row: Mapping[str, Any]) -> tuple[float, int]:
        start = _first(row, "started_at", "dispatched_at", "finished_at")
        return (math.inf if start is None else start, row.get("index") or 0)

    ordered = sorted(mine, key=key)
    segments: dict[str, tuple[list[float], list[float], list[float]]] = {
        name: ([], [], []) for name in ("wait", "wait_cold", "init", "ttfb", "transfer", "failed")
    }

    def add(name: str, y: float, start: float | None, end: float | None) -> None:
        if start is None or end is None or end < start:
            return
        ys, lefts, widths = segments[name]
        ys.append(y)
        lefts.append(start - t0)
        widths.append(end - start)

    fail_marks: tuple[list[float], list[float]] = ([], [])
    cold_count = failed_count = 0
    for y, row in enumerate(ordered, start=1):
        dispatched, started = _first(row, "dispatched_at"), _first(row, "started_at")
        finished = _first(row, "finished_at")
        ttfb = row.get("ttfb_ms")
        cold = bool(row.get("cold_start"))
        cold_count += cold
        if _failed(row):
            failed_count += 1
            begin = dispatched if dispatched is not None else started
            end = finished if finished is not None else (started if started is not None else begin)
            add("failed", y, begin, end)
            if end is not None:
                fail_marks[0].append(end - t0)
                fail_marks[1].append(y)
            continue
        add("wait_cold" if cold else "wait", y, dispatched, started)
        init_ms = row.get("init_ms")
        if cold and started is not None and init_ms:
            init_start = started - init_ms / 1000.0
            add("init", y, init_start if dispatched is None else max(dispatched, init_start), started)
        first_byte = None if started is None or ttfb is None else started + ttfb / 1000.0
        if first_byte is not None and finished is not None:
            first_byte = min(first_byte, finished)
        add("ttfb", y, started, first_byte)
        add("transfer", y, first_byte if first_byte is not None else started, finished)

    n = len(ordered)
    height = 0.8 if n <= 60 else 1.0  # many rows: bars touch, so each stays visible
    styles = {
        "wait": (_WAIT, "scheduled → started (warm)"),
        "wait_cold": (_WAIT_COLD, "scheduled → started (cold start)"),
        "init": (_INIT, "cold-start init"),
        "ttfb": (_TTFB, "started → first byte"),
        "transfer": (_TRANSFER, "first byte → done"),
        "failed": (_FAILED, "failed"),
    }
    handles: list[Any] = []
    for name, (ys, lefts, widths) in segments.items():
        colour, label = styles[name]
        if ys:
            ax.barh(ys, widths, left=lefts, height=height, color=colour, linewidth=0)
            handles.append(Patch(facecolor=colour, label=label))
    if fail_marks[0]:
        ax.plot(fail_marks[0], fail_marks[1], linestyle="", marker="x", color=_FAILED, markersize=6)
    ax.set_ylim(n + 0.5, 0.5)
    ax.yaxis.set_major_locator(MaxNLocator(integer=True))
    ax.set_xlim(left=0)
    ax.set_xlabel("seconds since the run's first dispatch (s)")
    ax.set_ylabel(f"invocation, by start time (n={n})")
    ax.grid(True, axis="x", alpha=0.35)
    counts = f"{cold_count} cold start{'s' if cold_count != 1 else ''}, {failed_count} failed"
    ax.set_title(f"Invocation timeline — {configuration_name}{note}: {counts}", **_TITLE)
    if handles:
        fig.legend(handles=handles, loc="outside lower center", ncols=min(len(handles), 3), fontsize=8)
    return _save(fig, out_png)


# ---------------------------------------------------------------- bars


def _bar_chart(
    values: Mapping[str, Sequence[float | None]],
    out_png: Path | str,
    title: str,
    ylabel: str,
    source: str,
    fmt: Any,
) -> Path:
    configs = _ordered(values)
    fig, ax = _new_figure(title, source)
    if not configs:
        _no_data(ax, "nothing to plot")
        return _save(fig, out_png)
    xs = list(range(len(configs)))
    heights: list[float] = []
    labels: list[str] = []
    lows: list[float] = []
    highs: list[float] = []
    for config in configs:
        present = [float(v) for v in values[config] if v is not None and math.isfinite(v)]
        mean = sum(present) / len(present) if present else 0.0
        heights.append(mean)
        lows.append(mean - min(present) if len(present) > 1 else 0.0)
        highs.append(max(present) - mean if len(present) > 1 else 0.0)
        label = fmt(mean) if present else "n/a"
        if len(present) > 1:
            label += f"\n(mean of {len(present)})"
        labels.append(label)
    colours = [_colour(c, configs) for c in configs]
    ax.bar(xs, heights, color=colours, width=0.6, edgecolor="black", linewidth=0.6)
    spread = [i for i, (lo, hi) in enumerate(zip(lows, highs, strict=True)) if lo or hi]
    if spread:
        ax.errorbar(
            [xs[i] for i in spread],
            [heights[i] for i in spread],
            yerr=[[lows[i] for i in spread], [highs[i] for i in spread]],
            fmt="none",
            ecolor="black",
            capsize=5,
            linewidth=1,
        )
    for x, height, high, label in zip(xs, heights, highs, labels, strict=True):
        ax.annotate(  # above the whisker, so the value never sits on it
            label,
            (x, height + high),
            xytext=(0, 4),
            textcoords="offset points",
            ha="center",
            va="bottom",
            fontsize=10,
            fontweight="bold",
        )
    top = max([h + e for h, e in zip(heights, highs, strict=True)] + [0.0])
    ax.set_ylim(0, top * 1.2 if top > 0 else 1.0)
    ax.set_xticks(xs, configs, fontsize=10)
    ax.set_xlabel("configuration (compute-storage)")
    ax.set_ylabel(ylabel)
    ax.grid(True, axis="y", alpha=0.35)
    ax.set_axisbelow(True)
    return _save(fig, out_png)


def throughput_bars(summary_runs: Iterable[Mapping[str, Any]], out_png: Path | str, source: str = "") -> Path:
    """Aggregate throughput (MB/s: all bytes over first start → last finish) per configuration; with
    several runs per configuration the bar is their mean and the whisker their min to max."""
    values: dict[str, list[float | None]] = {}
    for run in summary_runs:
        values.setdefault(configuration(run), []).append(run.get("throughput_mb_s"))
    return _bar_chart(
        values,
        out_png,
        "Aggregate download throughput per configuration",
        "throughput (MB/s, 10⁶ bytes/s)",
        source,
        lambda v: f"{v:,.1f} MB/s",
    )


def _usd(value: float) -> str:
    if value == 0:
        return "$0"
    digits = max(2, 2 - math.floor(math.log10(abs(value))))
    return f"${value:,.{digits}f}"


def cost_bars(costs: Mapping[str, float], out_png: Path | str, source: str = "") -> Path:
    """Cost per 1,000 downloads per configuration in USD (``costs``: configuration → USD, from the cost
    model)."""
    return _bar_chart(
        {config: [value] for config, value in costs.items()},
        out_png,
        "Estimated cost per 1,000 downloads",
        "USD per 1,000 downloads",
        source,
        _usd,
    )


# ---------------------------------------------------------------- a result directory


def _safe(name: str) -> str:
    return re.sub(r"[^A-Za-z0-9._-]+", "_", name)


def render_all(
    result_dir: Path | str, out_dir: Path | str | None = None, costs: Mapping[str, float] | None = None
) -> list[Path]:
    """Every plot for a result directory (``summary.json`` + ``invocations.csv``) into
    ``out_dir`` (default ``result_dir/plots/``): ``latency_cdf.png``, ``timeline_<config>.png`` per
    configuration, ``throughput.png`` and, when ``costs`` are given, ``cost_per_1000.png``."""
    result_dir = Path(result_dir)
    out = Path(out_dir) if out_dir is not None else result_dir / "plots"
    out.mkdir(parents=True, exist_ok=True)
    summary = load_summary(result_dir) if (result_dir / "summary.json").exists() else {}
    runs: list[Mapping[str, Any]] = list(summary.get("runs") or [])
    setup: Mapping[str, Any] = summary.get("setup") or {}
    csv_path = result_dir / "invocations.csv"
    rows = load_invocations(csv_path) if csv_path.exists() else []

    origin = str(setup.get("source") or "unknown source")
    cpus = (setup.get("machine") or {}).get("cpus")
    machine = f", {cpus} vCPU" if cpus else ""
    date = str(setup.get("date") or "")[:10]
    run_ids = list(dict.fromkeys([str(r.get("run_id")) for r in runs] + [str(r.get("run_id")) for r in rows]))
    overall = f"{origin}, {len(run_ids)} run{'s' if len(run_ids) != 1 else ''}"
    overall += f", {date}" if date else ""
    overall += machine

    written = [latency_cdf(rows, out / "latency_cdf.png", source=overall)]
    for config in _ordered([configuration(r) for r in rows] + [configuration(r) for r in runs]):
        config_runs = [r.get("run_id") for r in rows if configuration(r) == config]
        first = next((str(r) for r in config_runs if r is not None), None)
        written.append(
            timeline(
                rows,
                out / f"timeline_{_safe(config)}.png",
                config,
                source=f"{origin}, {first or 'no run'}{machine}",
                run_id=first,
            )
        )
    written.append(throughput_bars(runs, out / "throughput.png", source=overall))
    if costs is not None:
        written.append(cost_bars(costs, out / "cost_per_1000.png", source=overall))
    return written
