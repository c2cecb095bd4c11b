"""`perflab bench` end to end, as a user runs it: its own local cloud, all four configurations, the
result directory of the output contract (DESIGN.md), exit 0."""

from __future__ import annotations

import csv
import subprocess
import sys
from pathlib import Path

from perflab.report.files import load_summary

BENCH = (sys.executable, "-m", "perflab.cli", "bench")


def test_bench_writes_the_result_directory(tmp_path: Path) -> None:
    out = tmp_path / "results"
    result = subprocess.run(
        [*BENCH, "--invocations", "2", "--artifact-bytes", "1000000", "--out", str(out)],
        capture_output=True,
        text=True,
        timeout=300,
        cwd=tmp_path,
    )
    assert result.returncode == 0, result.stderr[-3000:]
    summary = load_summary(out)
    assert summary["schema"] == "perflab.summary/1"
    assert summary["setup"]["source"] == "local"
    runs = summary["runs"]
    assert sorted((r["compute"], r["storage"]) for r in runs) == [
        ("ecs", "rds"),
        ("ecs", "s3"),
        ("lambda", "rds"),
        ("lambda", "s3"),
    ]
    for run in runs:
        assert run["status"] == "SUCCEEDED"
        assert run["invocations"] == {"requested": 2, "succeeded": 2, "failed": 0, "missing": 0}
        assert run["sha256_verified"] is True
        assert run["bytes_total"] == 2 * 1_000_000
        assert set(run["latency_ms"]) >= {"mean", "median", "p90", "p95", "p99", "min", "max"}
        # Counted from the execution histories: 8 parent states + (child started, Route, Task) x 2.
        assert run["transitions"] == 8 + 3 * 2
        assert run["transitions_detail"]["child_executions"] == 2
    with (out / "invocations.csv").open() as f:
        rows = list(csv.DictReader(f))
    assert len(rows) == 8
    assert {
        "run_id",
        "index",
        "compute",
        "storage",
        "latency_ms",
        "bytes",
        "sha256_ok",
        "cold_start",
        "error",
    } <= set(rows[0])
    assert all(row["sha256_ok"] == "True" and row["error"] == "" for row in rows)
    report = (out / "report.md").read_text()
    assert all(f"`{run['run_id']}`" in report for run in runs)
    assert report.count("counted from the execution history") == len(runs)
    assert (out / "plots" / "latency_cdf.png").is_file()
