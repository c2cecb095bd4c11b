"""``perflab perf`` end to end on the session's local cloud, tiny: perf.json's shape and consistency.

Concurrency 1 and 4, one round, a 1 MB artifact, one pipeline configuration, a two-point scaling
series. Only shapes and internal consistency are checked (positive figures, ratios that are the
quotient they claim, every download counted): the speed targets belong to ``make bench-perf``.
"""

from __future__ import annotations

import json
import os
from pathlib import Path
from typing import Any

import pytest

from perflab.config import load_settings
from perflab.local.stack import LocalCloudInfo
from perflab.perf.profile import LAMBDA, ROLES, SERVER
from perflab.perf.run import PerfPlan, run_perf
from tests.conftest import unique

pytestmark = pytest.mark.local

CONCURRENCY = (1, 4)
ARTIFACT = 1_000_000
INVOCATIONS = 4


@pytest.fixture(scope="module")
def tiny_perf(local_cloud: LocalCloudInfo, tmp_path_factory: pytest.TempPathFactory) -> Path:
    """One tiny ``perflab perf --profile`` run; its output directory (``lines.txt``: what it printed)."""
    out = tmp_path_factory.mktemp("perf")
    plan = PerfPlan(
        out=out,
        concurrencies=CONCURRENCY,
        rounds=1,
        artifact_bytes=ARTIFACT,
        invocations=INVOCATIONS,
        configurations=("lambda-rds",),
        scaling_configuration="lambda-rds",
        scaling_invocations=(2, INVOCATIONS),
        scaling_artifact_bytes=(500_000, ARTIFACT),
        wrk_duration_s=1,
        profile=True,
    )
    lines: list[str] = []
    settings = load_settings(model_id=unique("perf-model"))
    assert run_perf(plan, lines.append, cloud_info=local_cloud, settings=settings) == 0
    (out / "lines.txt").write_text("\n".join(lines))
    return out


def test_tiny_perf_writes_a_consistent_perf_json(tiny_perf: Path) -> None:
    tmp_path = tiny_perf
    lines = (tiny_perf / "lines.txt").read_text().splitlines()
    doc = json.loads((tmp_path / "perf.json").read_text())
    assert doc["schema"] == "perflab.perf/1"
    reference = doc["reference"]
    assert reference["server"] in ("nginx", "aiohttp") and "socket" in reference["clients"]
    assert doc["reference_mb_s"] == reference["levels"]["c4"]["mb_s"] > 0

    assert set(doc["datapath"]) == {"s3", "rds_chunks", "rds_large_object"}
    for layout, levels in doc["datapath"].items():
        assert set(levels) == {"c1", "c4"}, layout
        for key, level in levels.items():
            c = int(key[1:])
            assert level["failed"] == 0 and level["samples"] == c, (layout, key, level.get("errors"))
            assert level["mb_s"] > 0 and 0 < level["p50_ms"] <= level["p99_ms"]
            assert level["ratio"] == pytest.approx(level["mb_s"] / reference["levels"][key]["mb_s"], abs=1e-3)
            assert level["client_cpu_ms"] > 0
            assert 0 <= level["download_rss_above_interpreter_mb"] <= level["worker_peak_rss_mb"]
    assert doc["download_peak_rss_mb"] == max(
        lv["download_rss_above_interpreter_mb"]
        for levels in doc["datapath"].values()
        for lv in levels.values()
    )

    run = doc["pipeline"]["lambda-rds"]
    assert run["status"] == "SUCCEEDED" and run["succeeded"] == INVOCATIONS and run["failed"] == 0
    assert run["wall_s"] > 0 and run["all_running_s"] is not None and run["all_running_s"] <= run["wall_s"]
    assert run["orchestration_overhead_s"] == pytest.approx(
        run["wall_s"] - run["slowest_ms"] / 1000, abs=2e-3
    )
    assert run["scheduling_delay_p50_ms"] <= run["scheduling_delay_p99_ms"]
    assert run["cost_usd"] > 0 and run["cost_per_1000_usd"] > 0 and run["transitions"] > 0
    assert run["stack_peak_pss_mb"] > 0 and run["largest_process_rss_mb"] > 0

    scaling = doc["scaling"]
    assert [p["invocations"] for p in scaling["by_invocations"]] == [2, INVOCATIONS]
    assert [p["artifact_bytes"] for p in scaling["by_artifact_bytes"]] == [500_000, ARTIFACT]
    assert scaling["by_invocations"][1]["from"] == "pipeline"  # the pipeline's run is reused, not re-run
    assert all(p["failed"] == 0 and p["wall_s"] > 0 for p in scaling["by_invocations"])
    assert (tmp_path / "scaling.png").stat().st_size > 10_000
    assert {t["name"] for t in doc["targets"]} >= {"s3 ratio at c4", "rds_chunks ratio at c4"}
    assert "Targets" in "\n".join(lines)


def _check_budget(budget: dict[str, Any], busy: tuple[str, ...] = ()) -> None:
    """``busy``: roles that must show CPU (only for windows long enough for 10 ms ticks to count)."""
    assert budget["cpus"] == os.cpu_count()
    assert budget["capacity_cpu_s"] == pytest.approx(budget["window_s"] * budget["cpus"], abs=0.02)
    assert 0 <= budget["busy_cpu_s"] <= budget["capacity_cpu_s"] * 1.1 + 0.1  # 10 ms ticks
    roles = budget["cpu_s_by_role"]
    assert set(roles) <= set(ROLES), roles
    assert all(roles.get(role, 0) > 0 for role in busy), roles
    assert sum(roles.values()) <= budget["busy_cpu_s"] * 1.1 + 0.2, roles
    for who, profiled in budget["profiles"].items():
        # py-spy either recorded (then the collapsed stacks are there) or said why it could not
        # (how many samples a window of a few milliseconds gets is luck: not asserted)
        assert "samples" in profiled or profiled.get("error"), (who, profiled)


def test_tiny_perf_measures_a_cpu_budget_and_profiles_each_window(tiny_perf: Path) -> None:
    doc = json.loads((tiny_perf / "perf.json").read_text())
    for layout, levels in doc["datapath"].items():
        assert "cpu_budget" not in levels["c1"], layout  # only the highest level is a window
        budget = levels["c4"]["cpu_budget"]
        _check_budget(budget)  # a c4 level of 1 MB downloads lasts a few ticks: shape only
        assert set(budget["profiles"]) == {"perf", "server", "client"}
    run = doc["pipeline"]["lambda-rds"]
    assert run["cpu_budget"]["window_s"] >= run["wall_s"]
    _check_budget(run["cpu_budget"], busy=(LAMBDA, SERVER))
    assert set(run["cpu_budget"]["profiles"]) == {"perf", "server"}
    fresh = [p for p in doc["scaling"]["by_artifact_bytes"] if "from" not in p]  # not reused runs
    assert fresh and all("cpu_budget" not in p for p in fresh)
    text = (tiny_perf / "profile.md").read_text()
    assert "data path s3 c4" in text and f"pipeline lambda-rds ({run['run_id']})" in text
    recorded = [
        profiled["file"]
        for window in [*(lv["c4"]["cpu_budget"] for lv in doc["datapath"].values()), run["cpu_budget"]]
        for profiled in window["profiles"].values()
        if "file" in profiled
    ]
    assert all((tiny_perf / "profiles" / name).exists() for name in recorded)
