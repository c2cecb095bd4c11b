"""`perflab report` turns result directories into one report with tables, comparisons, cost and plots."""

from __future__ import annotations

import shutil
import subprocess
import sys
from pathlib import Path

from perflab.report.build import build_report
from perflab.report.files import load_summary

LATEST = Path(__file__).resolve().parents[2] / "reports" / "latest"


def test_report_from_a_real_result(tmp_path: Path) -> None:
    result = tmp_path / "latest"
    shutil.copytree(LATEST, result)
    out = tmp_path / "report"
    path = build_report([result], out)
    text = path.read_text()
    for run in load_summary(result)["runs"]:
        assert f"`{run['run_id']}`" in text  # every number's run is named
    assert "**Source: local.**" in text
    assert "| Lambda vs ECS (S3) |" in text and "| S3 vs RDS (ECS) |" in text
    assert "**per 1,000 downloads**" in text
    for png in ("latency_cdf.png", "throughput.png", "cost_per_1000.png", "timeline_lambda-s3.png"):
        assert (out / "plots" / png).stat().st_size > 10_000
        assert f"(plots/{png})" in text
    assert load_summary(out)["runs"] == load_summary(result)["runs"]  # merged copy written to out


def test_two_result_dirs_merge_and_show_the_spread(tmp_path: Path) -> None:
    first, second = tmp_path / "a", tmp_path / "b"
    shutil.copytree(LATEST, first)
    shutil.copytree(LATEST, second)
    text = build_report([first, second], tmp_path / "both").read_text()
    assert "## Spread across repeats" in text
    assert text.count("| lambda-s3 | 2 |") == 1


def test_cli_refuses_a_directory_without_results(tmp_path: Path) -> None:
    result = subprocess.run(
        [sys.executable, "-m", "perflab.cli", "report", str(tmp_path)],
        capture_output=True,
        text=True,
        timeout=60,
    )
    assert result.returncode == 2
    assert "no summary.json and invocations.csv" in result.stderr
