"""Result directories read back as one set of runs, and what every report derives from them.

``report.md`` (:mod:`perflab.report.build`) and ``PERFORMANCE_REPORT.md``
(:mod:`perflab.report.performance`) both start here, so they read the same runs the same way: the
runs of every ``summary.json`` in order, the rows of every ``invocations.csv``, latency samples per
configuration (successful rows only) and each run's cost.
"""

from __future__ import annotations

from collections import defaultdict
from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from perflab.report.cost import CostBreakdown, Prices, load_prices, run_cost
from perflab.report.files import load_invocations, load_summary

#: The 2x2 design in report order: compute-storage.
CONFIGS = ("lambda-s3", "lambda-rds", "ecs-s3", "ecs-rds")


def config_of(run: Mapping[str, Any]) -> str:
    """``"lambda-s3"`` … for a run summary or an invocation row."""
    return f"{run.get('compute')}-{run.get('storage')}"


@dataclass
class ResultSet:
    """The runs and rows of one or more result directories (``perflab bench`` output)."""

    dirs: tuple[Path, ...]
    runs: list[dict[str, Any]]
    rows: list[dict[str, Any]]
    setups: list[dict[str, Any]] = field(default_factory=list)

    @property
    def setup(self) -> dict[str, Any]:
        """The first directory's setup (source, machine, date, invocations, artifact size, repeat)."""
        return dict(self.setups[0]) if self.setups else {}

    def rows_by_run(self) -> dict[str, list[dict[str, Any]]]:
        out: dict[str, list[dict[str, Any]]] = defaultdict(list)
        for row in self.rows:
            out[str(row.get("run_id"))].append(row)
        return out

    def by_config(self) -> dict[str, list[dict[str, Any]]]:
        """Runs per configuration, in the order they were run."""
        out: dict[str, list[dict[str, Any]]] = defaultdict(list)
        for run in self.runs:
            out[config_of(run)].append(run)
        return out

    def latencies(self) -> dict[str, list[float]]:
        """Latency samples (ms) of the successful invocations per configuration, all runs pooled."""
        out: dict[str, list[float]] = defaultdict(list)
        for row in self.rows:
            if not row.get("error") and row.get("latency_ms") is not None:
                out[config_of(row)].append(float(row["latency_ms"]))
        return out

    def costs(self, prices: Prices | None = None) -> list[CostBreakdown]:
        """Each run's cost (``perflab.report.cost``), in run order, at the deployed memory and task size.

        A run's stored ``transitions`` (counted from its execution history) is used when present.
        """
        from perflab.deploy import DOWNLOAD_MEMORY_MB, TASK_MEMORY_GB, TASK_VCPU

        prices = prices or load_prices()
        rows = self.rows_by_run()
        return [
            run_cost(
                run,
                rows.get(str(run.get("run_id")), []),
                prices,
                lambda_memory_mb=DOWNLOAD_MEMORY_MB,
                task_vcpu=TASK_VCPU,
                task_memory_gb=TASK_MEMORY_GB,
            )
            for run in self.runs
        ]


def load_results(result_dirs: Sequence[Path | str]) -> ResultSet:
    """Read ``summary.json`` and ``invocations.csv`` of each directory; ``ValueError`` when no runs."""
    dirs = tuple(Path(d) for d in result_dirs)
    runs: list[dict[str, Any]] = []
    rows: list[dict[str, Any]] = []
    setups: list[dict[str, Any]] = []
    for directory in dirs:
        summary = load_summary(directory)
        setups.append(dict(summary.get("setup") or {}))
        runs.extend(summary.get("runs") or [])
        rows.extend(load_invocations(directory / "invocations.csv"))
    if not runs:
        raise ValueError("no runs in " + ", ".join(str(d) for d in dirs))
    return ResultSet(dirs=dirs, runs=runs, rows=rows, setups=setups)
