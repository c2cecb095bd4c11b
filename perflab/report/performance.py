"""``PERFORMANCE_REPORT.md``: the project's final performance report, generated from result data.

``build_performance_report(result_dirs, out_path)`` (``perflab report DIR... --performance PATH``; ``make
bench`` regenerates ``reports/PERFORMANCE_REPORT.md`` from ``reports/latest``) reads the same result
directories as ``report.md`` (:mod:`perflab.report.dataset`) and writes: the experimental design, the
results per run, the historical baseline (external, from ``baseline.json``), the bottleneck work (from
``bottleneck_work.json`` and the run data), Lambda vs ECS and S3 vs RDS (:mod:`perflab.report.compare`),
cold starts, cost (:mod:`perflab.report.cost`), and conclusions and recommendations.

Rules this module keeps:

* Every figure taken from the runs sits in a table row or a sentence that names its run id(s); external
  figures name their source instead.
* Conclusions and recommendations are derived from the figures by the rules in :func:`_conclusions`
  (lowest median, lowest p99, highest throughput, the comparisons' verdicts, cheapest per 1,000
  downloads, failures, source and repeats); no claim is written that the data could contradict.
* Where a configuration has several runs (``--repeat``), its figure in the conclusions is the median of
  its runs' values, and every run id is named.
"""

from __future__ import annotations

import json
import statistics
from collections.abc import Callable, Mapping, Sequence
from dataclasses import dataclass
from importlib import resources
from pathlib import Path
from typing import Any

from perflab.report.compare import Comparison, compare_runs
from perflab.report.cost import CostBreakdown, load_prices, money
from perflab.report.dataset import CONFIGS, ResultSet, config_of, load_results
from perflab.report.markdown import fmt, table

BASELINE_FILE = "baseline.json"
BOTTLENECK_FILE = "bottleneck_work.json"
TITLE = "# Performance report: Lambda vs ECS, S3 vs RDS"
#: Section headings, in order (tests check every one is there).
SECTIONS = (
    "## Experimental design",
    "## Results per run",
    "## Historical baseline (external)",
    "## Bottleneck work",
    "## Lambda vs ECS",
    "## S3 vs RDS",
    "## Cold starts",
    "## Cost",
    "## Conclusions and recommendations",
)
ALPHA = 0.05
#: Above this share of the median latency, time to first byte is reported as the dominant part.
TTFB_DOMINANT_SHARE = 0.5

Lines = list[str]


# ------------------------------------------------------------------------------------------ inputs


@dataclass(frozen=True)
class Baseline:
    """The old system's figures: external, never measured by perflab."""

    name: str
    source: str
    environment: str
    not_known: str
    throughput_mb_s: float
    latency_mean_s: float
    latency_median_s: float
    latency_p99_s: float


def _package_json(name: str, path: Path | str | None) -> tuple[dict[str, Any], str]:
    if path is None:
        text = resources.files("perflab.report").joinpath(name).read_text(encoding="utf-8")
        where = f"perflab/report/{name}"
    else:
        text = Path(path).read_text(encoding="utf-8")
        where = str(path)
    data = json.loads(text)
    if not isinstance(data, dict):
        raise ValueError(f"{where}: not a JSON object")
    return data, where


def load_baseline(path: Path | str | None = None) -> Baseline:
    """The baseline file (default: ``perflab/report/baseline.json``); it must name its source."""
    data, where = _package_json(BASELINE_FILE, path)
    if not data.get("source"):
        raise ValueError(f"{where}: the baseline needs a 'source'")
    if data.get("external") is not True:
        raise ValueError(f'{where}: the baseline must be marked external ("external": true)')
    metrics = data.get("metrics")
    if not isinstance(metrics, Mapping):
        raise ValueError(f"{where}: no 'metrics'")
    keys = ("throughput_mb_s", "latency_mean_s", "latency_median_s", "latency_p99_s")
    values: dict[str, float] = {}
    for key in keys:
        value = metrics.get(key)
        if isinstance(value, bool) or not isinstance(value, int | float):
            raise ValueError(f"{where}: metric {key!r} must be a number")
        values[key] = float(value)
    return Baseline(
        name=str(data.get("name") or "old system"),
        source=str(data["source"]),
        environment=str(data.get("environment") or "unknown"),
        not_known=str(data.get("not_known") or ""),
        **values,
    )


def load_bottleneck_work(path: Path | str | None = None) -> dict[str, Any]:
    """The bottleneck work file (default: ``perflab/report/bottleneck_work.json``)."""
    data, where = _package_json(BOTTLENECK_FILE, path)
    if not data.get("source"):
        raise ValueError(f"{where}: needs a 'source'")
    return data


def _patch_gaps() -> dict[str, str]:
    """Compat patch name → the gap it closes (the registry ``perflab local patches`` prints)."""
    from perflab.local import compat

    return {patch.name: patch.gap for patch in compat.discover()}


# ------------------------------------------------------------------------------------------ figures


def _metric(run: Mapping[str, Any], metric: str, key: str | None = None) -> float | None:
    value = run.get(metric)
    if key is not None:
        value = value.get(key) if isinstance(value, Mapping) else None
    if isinstance(value, bool) or not isinstance(value, int | float):
        return None
    return float(value)


def _ids(runs: Sequence[Mapping[str, Any]]) -> str:
    return ", ".join(f"`{run.get('run_id')}`" for run in runs)


def _config_figure(
    runs: Sequence[Mapping[str, Any]], get: Callable[[Mapping[str, Any]], float | None]
) -> float | None:
    """One configuration's figure: its run's value, or the median of its runs' values."""
    values = [v for v in (get(run) for run in runs) if v is not None]
    return statistics.median(values) if values else None


def _sides(comparison: Comparison) -> tuple[str, str]:
    """``("Lambda", "ECS")`` for ``"Lambda vs ECS (S3)"``."""
    a, _, rest = comparison.label.partition(" vs ")
    return a, rest.split(" (", 1)[0]


def _verdict(comparison: Comparison) -> str:
    a, b = _sides(comparison)
    if comparison.verdict == "a faster":
        return f"{a} faster"
    if comparison.verdict == "b faster":
        return f"{b} faster"
    return "no clear difference"


def _seconds(ms: float | None) -> str:
    return "—" if ms is None else f"{ms / 1000.0:,.2f}"


# ------------------------------------------------------------------------------------------ sections


def _header(results: ResultSet) -> Lines:
    setup = results.setup
    dirs = ", ".join(f"`{d}`" for d in results.dirs)
    source = str(setup.get("source") or "unknown")
    lines = [
        TITLE,
        "",
        f"Generated by `perflab report --performance` from the result data in {dirs} (runs "
        f"{_ids(results.runs)}; benchmark date {setup.get('date', 'unknown')}). Every figure names the run "
        "it comes from, or, for external figures, its source. Regenerate it, never edit it: `make bench`, "
        "or `perflab report RESULT_DIR --performance PATH`.",
        "",
        f"**Source: {source}.** {setup.get('source_note', '')}".rstrip(),
        "",
    ]
    return lines


def _design(results: ResultSet) -> Lines:
    setup = results.setup
    by_config = results.by_config()
    lines = [
        SECTIONS[0],
        "",
        "**A run** is one execution of the `download_fanout` state machine for one configuration: a "
        "Distributed Map starts one child execution per invocation (STANDARD children); each invocation "
        "runs on Lambda or as an ECS task, streams the same artifact from S3 or RDS PostgreSQL, verifies "
        "its sha256 in the same pass and writes one record; an Aggregate step summarises the records. "
        "Every statistic here is computed from those raw records.",
        "",
        "**What is measured** per invocation: latency (from the download call to the verified last byte), "
        "time to first byte (TTFB: from the call to the first chunk), scheduling delay (from the Map's "
        "dispatch to the start of the download), cold start and init time. Per run: throughput = bytes of "
        "all downloads / (last finish - first start), in MB/s with MB = 10^6 bytes.",
        "",
        "**The 2x2 design** (compute x storage):",
        "",
    ]
    rows = []
    for config in CONFIGS:
        runs = by_config.get(config, [])
        compute, storage = config.split("-")
        inv = [run.get("invocations") or {} for run in runs]
        ok = " + ".join(f"{i.get('succeeded')} / {i.get('requested')}" for i in inv) or "not run"
        rows.append([config, compute, storage, _ids(runs) or "—", len(runs), ok])
    lines += table(["configuration", "compute", "storage", "run ids", "runs", "succeeded / requested"], rows)
    setup_rows: list[list[Any]] = []
    if "invocations" in setup:
        setup_rows.append(["invocations per run (N, the fan-out)", setup["invocations"]])
    artifact = setup.get("artifact_bytes")
    if isinstance(artifact, int):
        setup_rows.append(["artifact size", f"{artifact:,} bytes ({artifact / 1e6:,.1f} MB)"])
    if "repeat" in setup:
        setup_rows.append(["runs per configuration (--repeat)", setup["repeat"]])
    for key in ("date", "bench_wall_s"):
        if key in setup:
            setup_rows.append([key, setup[key]])
    machine = setup.get("machine")
    if isinstance(machine, Mapping):
        setup_rows += [[f"machine: {key}", value] for key, value in machine.items()]
    lines += ["**Setup** of every run above (from `summary.json`):", ""]
    lines += table(["setting", "value"], setup_rows)
    source = str(setup.get("source") or "unknown")
    if source == "local":
        cpus = machine.get("cpus") if isinstance(machine, Mapping) else None
        lines += [
            "**Local, not AWS.** These runs ran on the local cloud: one machine"
            + (f" with {cpus} CPUs" if cpus is not None else "")
            + ", where the downloads, moto's S3, PostgreSQL and the orchestration share the CPUs. What "
            "local figures cannot tell:",
            "",
            "- **init times are not AWS's**: Lambda environments and ECS tasks are forked from preloaded "
            "processes; ECS start-up has no image pull and no ENI attachment;",
            "- **the network is not AWS's**: every byte crosses the loopback interface; S3 is moto's "
            "server, RDS a local PostgreSQL;",
            "- use them to compare changes on the same machine; choosing between AWS services needs the "
            "same benchmark on AWS.",
            "",
        ]
    else:
        lines += [f"**Source: {source}.** Figures are labelled with this source throughout.", ""]
    repeat = max((len(runs) for runs in by_config.values()), default=0)
    if repeat <= 1:
        lines += [
            "**Repeats:** one run per configuration. The confidence intervals below describe the "
            "invocations within a run; run-to-run spread is not measured (`perflab bench --repeat R`).",
            "",
        ]
    else:
        lines += [
            f"**Repeats:** up to {repeat} runs per configuration; comparisons pool the runs' invocations, "
            "and the conclusions use the median of each configuration's run values.",
            "",
        ]
    return lines


def _results(results: ResultSet) -> Lines:
    header = [
        "run id",
        "configuration",
        "ok / requested",
        "mean ms",
        "median ms",
        "p90 ms",
        "p95 ms",
        "p99 ms",
        "max ms",
        "TTFB median ms",
        "scheduling delay median ms",
        "MB/s",
        "cold starts",
        "wall s",
    ]
    rows = []
    for run in results.runs:
        inv = run.get("invocations") or {}
        rows.append(
            [
                f"`{run.get('run_id')}`",
                config_of(run),
                f"{inv.get('succeeded')} / {inv.get('requested')}",
                *(fmt(_metric(run, "latency_ms", k)) for k in ("mean", "median", "p90", "p95", "p99", "max")),
                fmt(_metric(run, "ttfb_ms", "median")),
                fmt(_metric(run, "scheduling_delay_ms", "median")),
                fmt(_metric(run, "throughput_mb_s")),
                run.get("cold_starts", "—"),
                fmt(_metric(run, "wall_s"), 2),
            ]
        )
    return [SECTIONS[1], "", "Latency over the successful invocations of each run.", "", *table(header, rows)]


def _baseline(results: ResultSet, baseline: Baseline) -> Lines:
    source = str(results.setup.get("source") or "unknown")
    rows: list[list[Any]] = [
        [
            f"**external**: {baseline.source}",
            "— (external)",
            baseline.environment,
            f"{baseline.throughput_mb_s:,.2f}",
            f"{baseline.latency_mean_s:,.2f}",
            f"{baseline.latency_median_s:,.2f}",
            f"{baseline.latency_p99_s:,.2f}",
        ]
    ]
    for run in results.runs:
        rows.append(
            [
                f"perflab {config_of(run)} (this report)",
                f"`{run.get('run_id')}`",
                source,
                fmt(_metric(run, "throughput_mb_s"), 2),
                _seconds(_metric(run, "latency_ms", "mean")),
                _seconds(_metric(run, "latency_ms", "median")),
                _seconds(_metric(run, "latency_ms", "p99")),
            ]
        )
    lines = [
        SECTIONS[2],
        "",
        f"The {baseline.name}'s figures are **external**: they were not measured by perflab, and the "
        "source column says where each row comes from. They sit beside ours for orientation only: **they "
        "are not comparable like-for-like.**",
        "",
        *table(["source", "run id", "environment", "throughput MB/s", "mean s", "median s", "P99 s"], rows),
        "Why not like-for-like:",
        "",
        f"- environment: the {baseline.name} ran on {baseline.environment}; these runs are {source}"
        + (" (one machine, see the design above)" if source == "local" else "")
        + ";",
    ]
    if baseline.not_known:
        lines.append(f"- not known about the {baseline.name}: {baseline.not_known};")
    lines += [
        "- perflab's throughput is the bytes of all downloads of a run over the span from the first start "
        "to the last finish; the baseline's definition is not known.",
        "",
    ]
    return lines


def _bottlenecks(results: ResultSet, work: Mapping[str, Any]) -> Lines:
    lines = [SECTIONS[3], "", str(work.get("seed_list", "")).strip(), ""]
    lines += [
        "### What the project changed",
        "",
        f"Scope: {work.get('scope', 'not stated')}. Source: {work['source']}.",
        "",
    ]
    gaps = _patch_gaps()
    rows = []
    for item in work.get("changes") or []:
        patch = item.get("patch")
        if patch:
            gap = gaps.get(str(patch))
            where = f"compat patch `{patch}`" + (
                f" (closes: {gap})" if gap else " (no longer in the registry)"
            )
        else:
            where = f"`{item.get('where', '')}`"
        rows.append([item.get("change", ""), where, item.get("measured") or "not measured separately"])
    lines += table(["change", "where", "measured effect (before the change → after)"], rows)
    effects = work.get("effect") or []
    if effects:
        lines += ["Effect of these changes together (smoke benchmark, source above):", ""]
        lines += table(
            ["measure", "before", "after", "after: run"],
            [[e.get("measure"), e.get("before"), e.get("after"), e.get("after_run")] for e in effects],
        )
    lines += [
        "### Where the time goes in these runs",
        "",
        "From the run data: a download's latency splits into the wait for its first byte (TTFB) and the "
        "transfer after it; before it starts, an invocation waits for its environment (scheduling "
        f"delay). Finding by rule: TTFB above {TTFB_DOMINANT_SHARE:.0%} of the median latency → the wait "
        "for the first byte dominates, else the transfer does; a median scheduling delay above the median "
        "latency → invocations waited longer to start than to download.",
        "",
    ]
    rows = []
    for run in results.runs:
        latency = _metric(run, "latency_ms", "median")
        ttfb = _metric(run, "ttfb_ms", "median")
        delay = _metric(run, "scheduling_delay_ms", "median")
        share = ttfb / latency if ttfb is not None and latency else None
        findings = []
        if share is not None:
            findings.append("first byte dominates" if share > TTFB_DOMINANT_SHARE else "transfer dominates")
        if delay is not None and latency is not None and delay > latency:
            findings.append("start-up wait exceeds the download")
        rows.append(
            [
                f"`{run.get('run_id')}`",
                config_of(run),
                fmt(latency),
                fmt(ttfb),
                "—" if share is None else f"{share:.0%}",
                fmt(delay),
                fmt(_metric(run, "scheduling_delay_ms", "p90")),
                fmt(_metric(run, "scheduling_delay_ms", "max")),
                "; ".join(findings) or "—",
            ]
        )
    lines += table(
        [
            "run id",
            "configuration",
            "latency median ms",
            "TTFB median ms",
            "TTFB / latency",
            "scheduling delay median ms",
            "scheduling delay p90 ms",
            "scheduling delay max ms",
            "finding",
        ],
        rows,
    )
    if results.setup.get("source") == "local":
        lines += [
            "Locally S3 is moto's single-process server and every process shares the machine's CPUs, so a "
            "bottleneck found here may be the local cloud's rather than the AWS service's.",
            "",
        ]
    return lines


def _pair_section(
    heading: str,
    intro: str,
    comparisons: Sequence[Comparison],
    results: ResultSet,
    costs: Mapping[str, Sequence[CostBreakdown]],
    order: Sequence[tuple[str, str]],
) -> Lines:
    by_config = results.by_config()
    lines = [heading, "", intro, ""]
    if comparisons:
        a, b = _sides(comparisons[0])
        rows = []
        for c in comparisons:
            rows.append(
                [
                    c.label,
                    _ids(by_config.get(c.a_label, [])),
                    _ids(by_config.get(c.b_label, [])),
                    f"{c.n_a} / {c.n_b}",
                    f"{fmt(c.median_a)} / {fmt(c.median_b)}",
                    fmt(c.diff),
                    f"[{fmt(c.ci_low)}, {fmt(c.ci_high)}]",
                    f"{c.p_value:.3g}",
                    _verdict(c),
                ]
            )
        lines += table(
            [
                "comparison",
                f"{a} runs",
                f"{b} runs",
                f"n {a} / {b}",
                f"median {a} / {b} ms",
                f"{a} - {b} ms",
                "95% CI (bootstrap)",
                "Mann-Whitney p",
                "verdict",
            ],
            rows,
        )
        lines += [
            f"{a} - {b} is the difference of the medians (negative: {a} is faster). A verdict names a "
            f"winner only when the 95% CI excludes 0 and p < {ALPHA}.",
            "",
        ]
    else:
        lines += ["Not enough configurations in these results for this comparison.", ""]
    rows = []
    for group, config in order:
        for run in by_config.get(config, []):
            bill = next((b for b in costs.get(config, []) if b.run_id == run.get("run_id")), None)
            per_1000 = bill.per_1000_downloads if bill is not None else None
            rows.append(
                [
                    group,
                    config,
                    f"`{run.get('run_id')}`",
                    fmt(_metric(run, "latency_ms", "median")),
                    fmt(_metric(run, "latency_ms", "p99")),
                    fmt(_metric(run, "throughput_mb_s")),
                    run.get("cold_starts", "—"),
                    "n/a" if per_1000 is None else money(per_1000),
                ]
            )
    if rows:
        lines += table(
            [
                "at",
                "configuration",
                "run id",
                "median ms",
                "p99 ms",
                "MB/s",
                "cold starts",
                "per 1,000 downloads",
            ],
            rows,
        )
    return lines


def _cold_starts(results: ResultSet) -> Lines:
    rows = []
    for run in results.runs:
        inv = run.get("invocations") or {}
        requested = inv.get("requested")
        cold = run.get("cold_starts")
        penalty = _metric(run, "cold_start_penalty_ms")
        if penalty is not None:
            note = "penalty = mean(init + latency) of cold - mean latency of warm invocations"
        elif cold == 0:
            note = "no cold start in this run: no penalty to measure"
        elif isinstance(cold, int) and cold == requested:
            note = "every invocation was cold: no warm invocation in the run to compare with"
        else:
            note = "not enough successful cold and warm invocations to compare"
        rows.append(
            [
                f"`{run.get('run_id')}`",
                config_of(run),
                f"{cold} / {requested}",
                fmt(_metric(run, "init_ms", "median")),
                fmt(_metric(run, "init_ms", "p99")),
                fmt(penalty),
                note,
            ]
        )
    lines = [SECTIONS[6], ""]
    lines += table(
        [
            "run id",
            "configuration",
            "cold / invocations",
            "init median ms",
            "init p99 ms",
            "mean cold-start penalty ms",
            "note",
        ],
        rows,
    )
    if results.setup.get("source") == "local":
        lines += [
            "Local init times come from environments forked from preloaded processes: they are not AWS "
            "init times.",
            "",
        ]
    return lines


def _cost(bills: Sequence[CostBreakdown]) -> Lines:
    prices = load_prices()
    rows = []
    for bill in bills:
        line = bill.line("Step Functions transitions")
        per_1000 = bill.per_1000_downloads
        rows.append(
            [
                f"`{bill.run_id}`",
                f"{bill.compute}-{bill.storage}",
                bill.downloads,
                money(bill.total),
                "n/a" if per_1000 is None else money(per_1000),
                "—" if line is None else f"{line.quantity:,.0f}",
                "—" if line is None else line.note,
            ]
        )
    lines = [
        SECTIONS[7],
        "",
        f"What each run would have cost on AWS: {prices.region} on-demand list prices (retrieved "
        f"{prices.retrieved}, `{prices.path}`, every price with its source) applied to what the run used "
        "(durations, memory, task size, requests, transitions); no free tier. The line-by-line bill is in "
        "the result directory's `report.md`.",
        "",
    ]
    lines += table(
        [
            "run id",
            "configuration",
            "successful downloads",
            "cost per run",
            "per 1,000 downloads",
            "Step Functions transitions",
            "how the transitions were obtained",
        ],
        rows,
    )
    return lines


def _conclusions(
    results: ResultSet,
    compute_pairs: Sequence[Comparison],
    storage_pairs: Sequence[Comparison],
    costs: Mapping[str, Sequence[CostBreakdown]],
) -> Lines:
    comparisons = [*compute_pairs, *storage_pairs]
    by_config = {c: runs for c, runs in results.by_config().items() if runs}
    lines = [
        SECTIONS[8],
        "",
        "Derived by rule from the figures above (a configuration's figure is its run's value, or the median "
        "of its runs' values).",
        "",
    ]

    def figure(config: str, get: Callable[[Mapping[str, Any]], float | None]) -> float | None:
        return _config_figure(by_config[config], get)

    def ranked(get: Callable[[Mapping[str, Any]], float | None]) -> list[tuple[float, str]]:
        values = [(figure(c, get), c) for c in by_config]
        return sorted((v, c) for v, c in values if v is not None)

    def median_of(run: Mapping[str, Any]) -> float | None:
        return _metric(run, "latency_ms", "median")

    def p99_of(run: Mapping[str, Any]) -> float | None:
        return _metric(run, "latency_ms", "p99")

    def throughput_of(run: Mapping[str, Any]) -> float | None:
        return _metric(run, "throughput_mb_s")

    cost_by_run = {bill.run_id: bill for bills in costs.values() for bill in bills}

    def per_1000_of(run: Mapping[str, Any]) -> float | None:
        bill = cost_by_run.get(str(run.get("run_id")))
        return None if bill is None else bill.per_1000_downloads

    def named(config: str) -> str:
        return f"**{config}** (run {_ids(by_config[config])})"

    findings: Lines = []
    medians, p99s = ranked(median_of), ranked(p99_of)
    throughputs, per_1000 = ranked(throughput_of), ranked(per_1000_of)
    if medians:
        best, worst = medians[0], medians[-1]
        findings.append(
            f"Lowest median latency: {named(best[1])} at {fmt(best[0])} ms; highest: {named(worst[1])} at "
            f"{fmt(worst[0])} ms."
        )
    if p99s:
        tail = p99s[0]
        same = (
            " (the same configuration as the lowest median)" if medians and medians[0][1] == tail[1] else ""
        )
        findings.append(f"Lowest p99 latency: {named(tail[1])} at {fmt(tail[0])} ms{same}.")
    if throughputs:
        top = throughputs[-1]
        findings.append(f"Highest throughput: {named(top[1])} at {fmt(top[0])} MB/s.")
    for c in comparisons:
        runs = f"runs {_ids(by_config.get(c.a_label, []))} / {_ids(by_config.get(c.b_label, []))}"
        stats = (
            f"difference of medians {fmt(c.diff)} ms, 95% CI [{fmt(c.ci_low)}, {fmt(c.ci_high)}], "
            f"p = {c.p_value:.3g}"
        )
        if c.verdict == "no clear difference":
            findings.append(f"{c.label}: no clear difference ({stats}; {runs}).")
        else:
            findings.append(f"{c.label}: {_verdict(c)}, significant at 95% ({stats}; {runs}).")
    if per_1000:
        cheapest, dearest = per_1000[0], per_1000[-1]
        findings.append(
            f"Cheapest per 1,000 downloads: {named(cheapest[1])} at {money(cheapest[0])}; dearest: "
            f"{named(dearest[1])} at {money(dearest[0])}."
        )
    failed = [run for run in results.runs if ((run.get("invocations") or {}).get("failed") or 0) > 0]
    if failed:
        for run in failed:
            errors = ", ".join(f"{k} {v}" for k, v in (run.get("errors_by_type") or {}).items()) or "unknown"
            findings.append(
                f"Run `{run.get('run_id')}` ({config_of(run)}) had "
                f"{(run.get('invocations') or {}).get('failed')} failed invocations ({errors})."
            )
    elif all(run.get("sha256_verified") is True for run in results.runs):
        findings.append(
            f"Every invocation of every run ({_ids(results.runs)}) succeeded and matched the artifact's "
            "sha256."
        )
    lines += ["### Conclusions", "", *(f"{i}. {text}" for i, text in enumerate(findings, 1)), ""]

    recs: Lines = []
    if medians and per_1000:
        fast, cheap = medians[0][1], per_1000[0][1]
        if fast == cheap:
            recs.append(
                f"On these figures {named(fast)} is both the fastest (lowest median) and the cheapest per "
                "1,000 downloads: prefer it."
            )
        else:
            fast_cost, cheap_cost = figure(fast, per_1000_of), figure(cheap, per_1000_of)
            fast_median, cheap_median = figure(fast, median_of), figure(cheap, median_of)
            trade = ""
            if fast_cost and cheap_cost and fast_median is not None and cheap_median is not None:
                trade = (
                    f": {fast} costs {fast_cost / cheap_cost:,.1f}x as much per 1,000 downloads, and "
                    f"{cheap}'s median is {fmt(cheap_median - fast_median)} ms slower"
                )
            recs.append(f"For latency prefer {named(fast)}; for cost prefer {named(cheap)}{trade}.")
        # A configuration the comparisons cannot tell from the fastest, but cheaper, is the better buy.
        ties = [
            (c, c.b_label if c.a_label == fast else c.a_label)
            for c in comparisons
            if fast in (c.a_label, c.b_label) and c.verdict == "no clear difference"
        ]
        priced = [(figure(other, per_1000_of), other, c) for c, other in ties if other in by_config]
        fast_cost = figure(fast, per_1000_of)
        cheaper = sorted(
            (cost, other, c)
            for cost, other, c in priced
            if cost is not None and fast_cost and cost < fast_cost
        )
        if fast != cheap and fast_cost and cheaper:
            cost, other, c = cheaper[0]
            recs.append(
                f"{named(other)} is not significantly slower than {named(fast)} ({c.label}: no clear "
                "difference) "
                f"and costs {money(cost)} per 1,000 downloads against {fast}'s {money(fast_cost)}: at that "
                "latency it is the better buy."
            )
    for dimension, pairs in (("compute", compute_pairs), ("storage", storage_pairs)):
        verdicts = {_verdict(c) for c in pairs}
        if len(pairs) == 2 and len(verdicts) == 1 and verdicts != {"no clear difference"}:
            winner = next(iter(verdicts)).removesuffix(" faster")
            recs.append(
                f"{dimension.capitalize()}: {winner} was significantly faster in both of its comparisons "
                f"({'; '.join(c.label for c in pairs)})."
            )
        elif pairs:
            recs.append(
                f"{dimension.capitalize()}: no single {dimension} was significantly faster in every "
                f"comparison ({'; '.join(f'{c.label}: {_verdict(c)}' for c in pairs)}); choose it per "
                f"{'storage' if dimension == 'compute' else 'compute'}."
            )
    if medians and p99s and medians[0][1] != p99s[0][1]:
        recs.append(
            f"If the tail matters more than the typical download, {named(p99s[0][1])} has the lowest p99."
        )
    if results.setup.get("source") == "local":
        recs.append(
            "These are local figures: repeat the benchmark on AWS before choosing services (init times, "
            "network and the storage servers differ)."
        )
    if max((len(runs) for runs in by_config.values()), default=0) <= 1:
        recs.append(
            "One run per configuration: run `perflab bench --repeat 3` to measure run-to-run spread before "
            "relying on small differences."
        )
    lines += ["### Recommendations", "", *(f"- {text}" for text in recs), ""]
    return lines


# ------------------------------------------------------------------------------------------ the report


def render_performance_report(
    results: ResultSet, baseline: Baseline, work: Mapping[str, Any], bills: Sequence[CostBreakdown]
) -> str:
    """The report's Markdown text (pure apart from reading the compat registry and the price file)."""
    comparisons = compare_runs(results.latencies(), alpha=ALPHA)
    costs: dict[str, list[CostBreakdown]] = {}
    for bill in bills:
        costs.setdefault(f"{bill.compute}-{bill.storage}", []).append(bill)
    by_pair = {c.label: c for c in comparisons}
    compute_pairs = [by_pair[k] for k in ("Lambda vs ECS (S3)", "Lambda vs ECS (RDS)") if k in by_pair]
    storage_pairs = [by_pair[k] for k in ("S3 vs RDS (Lambda)", "S3 vs RDS (ECS)") if k in by_pair]
    lines = _header(results)
    lines += _design(results)
    lines += _results(results)
    lines += _baseline(results, baseline)
    lines += _bottlenecks(results, work)
    lines += _pair_section(
        SECTIONS[4],
        "Lambda against ECS at each storage: latency of the successful invocations, all runs of a "
        "configuration pooled.",
        compute_pairs,
        results,
        costs,
        [("S3", "lambda-s3"), ("S3", "ecs-s3"), ("RDS", "lambda-rds"), ("RDS", "ecs-rds")],
    )
    lines += _pair_section(
        SECTIONS[5],
        "S3 against RDS PostgreSQL at each compute: latency of the successful invocations, all runs of a "
        "configuration pooled.",
        storage_pairs,
        results,
        costs,
        [("Lambda", "lambda-s3"), ("Lambda", "lambda-rds"), ("ECS", "ecs-s3"), ("ECS", "ecs-rds")],
    )
    lines += _cold_starts(results)
    lines += _cost(bills)
    lines += _conclusions(results, compute_pairs, storage_pairs, costs)
    return "\n".join(lines).rstrip() + "\n"


def build_performance_report(
    result_dirs: Sequence[Path | str],
    out_path: Path | str,
    *,
    baseline_path: Path | str | None = None,
    bottleneck_path: Path | str | None = None,
) -> Path:
    """Read the result directories and write the performance report to ``out_path``; return the path."""
    results = load_results(result_dirs)
    text = render_performance_report(
        results, load_baseline(baseline_path), load_bottleneck_work(bottleneck_path), results.costs()
    )
    path = Path(out_path)
    path.parent.mkdir(parents=True, exist_ok=True)
    path.write_text(text)
    return path
