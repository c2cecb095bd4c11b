"""``perflab report``: one readable report from one or more result directories.

Reads each directory's ``summary.json`` and ``invocations.csv`` (the ``perflab bench`` output), and
writes into ``--out``: ``report.md`` (setup, a 2x2 table per metric, pairwise comparisons with a
bootstrap 95% CI of the difference of medians and a Mann-Whitney U p-value, the spread across
repeats, the cost per run and per 1,000 downloads) and the plots (``plots/*.png``). Every number comes
from the runs it names; local figures are labelled local.
"""

from __future__ import annotations

import shutil
from collections import defaultdict
from collections.abc import Mapping, Sequence
from pathlib import Path
from typing import Any

from perflab.report.compare import compare_runs, repeat_spread
from perflab.report.cost import CostBreakdown, format_cost_table
from perflab.report.dataset import CONFIGS, config_of, load_results
from perflab.report.files import write_invocations, write_summary
from perflab.report.markdown import fmt as _fmt
from perflab.report.markdown import grid as _grid
from perflab.report.plots import render_all


def build_report(result_dirs: Sequence[Path], out: Path) -> Path:
    """Merge the result directories into ``out`` and write ``out/report.md`` with its plots."""
    results = load_results(result_dirs)
    runs, rows = results.runs, results.rows
    out.mkdir(parents=True, exist_ok=True)
    setup = results.setup
    if len(result_dirs) > 1 or Path(result_dirs[0]).resolve() != out.resolve():
        write_summary(out, runs, setup)
        write_invocations(out, rows)

    costs: dict[str, list[CostBreakdown]] = defaultdict(list)
    for breakdown in results.costs():
        costs[f"{breakdown.compute}-{breakdown.storage}"].append(breakdown)
    per_1000 = {
        config: sum(b.per_1000_downloads or 0.0 for b in bs) / len(bs) for config, bs in costs.items() if bs
    }
    if (out / "plots").exists():
        shutil.rmtree(out / "plots")
    plots = render_all(out, costs=per_1000)

    comparisons = compare_runs(results.latencies())
    by_config = results.by_config()

    def first(metric: str, key: str | None = None) -> dict[str, Any]:
        values: dict[str, Any] = {}
        for config, config_runs in by_config.items():
            value = config_runs[0].get(metric)
            values[config] = value.get(key) if key and isinstance(value, Mapping) else value
        return values

    source = str(setup.get("source", "local"))
    lines = [
        "# perflab report",
        "",
        f"**Source: {source}.** {setup.get('source_note', '')}".rstrip(),
        "",
        "| setting | value |",
        "|---|---|",
    ]
    for key in ("date", "invocations", "artifact_bytes", "repeat"):
        if key in setup:
            lines.append(f"| {key} | {setup[key]} |")
    machine = setup.get("machine")
    if isinstance(machine, Mapping):
        lines.append("| machine | " + ", ".join(f"{k} {v}" for k, v in machine.items()) + " |")
    lines += [
        "",
        "## Runs",
        "",
        "| run id | config | status | succeeded / requested | wall s |",
        "|---|---|---|---|---|",
    ]
    for run in runs:
        inv = run.get("invocations") or {}
        lines.append(
            f"| `{run.get('run_id')}` | {config_of(run)} | {run.get('status')} | "
            f"{inv.get('succeeded')} / {inv.get('requested')} | {_fmt(run.get('wall_s'), 2)} |"
        )
    lines += ["", "## Latency and throughput (first run of each configuration)", ""]
    for key in ("mean", "median", "p90", "p95", "p99", "max"):
        lines += _grid(f"latency {key} (ms)", first("latency_ms", key))
    lines += _grid("time to first byte, median (ms)", first("ttfb_ms", "median"))
    lines += _grid("scheduling delay, median (ms)", first("scheduling_delay_ms", "median"))
    lines += _grid("throughput (MB/s, 10^6 bytes)", first("throughput_mb_s"))
    lines += _grid("cold starts", first("cold_starts"), 0)
    lines += _grid("mean cold-start penalty (ms)", first("cold_start_penalty_ms"))
    failures = {
        c: ", ".join(f"{k} {v}" for k, v in (rs[0].get("errors_by_type") or {}).items()) or "none"
        for c, rs in by_config.items()
    }
    lines += ["**failures by error type**", "", "| config | failures |", "|---|---|"]
    lines += [f"| {c} | {failures[c]} |" for c in CONFIGS if c in failures]
    lines += ["", "## Pairwise comparisons (latency, all runs pooled)", ""]
    if comparisons:
        lines += [
            "| comparison | n | median a / b (ms) | a - b (ms) | 95% CI (bootstrap) | Mann-Whitney p | verdict |",  # noqa: E501
            "|---|---|---|---|---|---|---|",
        ]
        for c in comparisons:
            lines.append(
                f"| {c.label} | {c.n_a} / {c.n_b} | {c.median_a:,.1f} / {c.median_b:,.1f} | {c.diff:,.1f} | "
                f"[{c.ci_low:,.1f}, {c.ci_high:,.1f}] | {c.p_value:.3g} | {c.verdict} |"
            )
    else:
        lines.append("Not enough configurations for a comparison.")
    repeated = {c: rs for c, rs in by_config.items() if len(rs) > 1}
    if repeated:
        lines += [
            "",
            "## Spread across repeats (median latency, ms)",
            "",
            "| config | runs | min | max | mean | cv |",
            "|---|---|---|---|---|---|",
        ]
        for config, config_runs in repeated.items():
            medians = [float((r.get("latency_ms") or {}).get("median") or 0.0) for r in config_runs]
            spread = repeat_spread(medians)
            lines.append(
                f"| {config} | {len(config_runs)} | {_fmt(spread['min'])} | {_fmt(spread['max'])} | "
                f"{_fmt(spread['mean'])} | {_fmt(spread['cv'], 3)} |"
            )
    lines += ["", "## Cost (us-east-1 list prices applied to what each run used)", ""]
    lines += [format_cost_table([bs[0] for bs in costs.values()]), ""]
    lines += ["## Plots", ""]
    lines += [f"![{p.stem}](plots/{p.name})" for p in plots]
    path = out / "report.md"
    path.write_text("\n".join(lines) + "\n")
    return path
