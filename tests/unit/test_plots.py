"""Plots: every PNG is written, valid and of the set size, on synthetic rows and on ``reports/latest``."""

from __future__ import annotations

import shutil
import struct
import threading
from pathlib import Path
from typing import Any

import pytest

from perflab.report import plots
from perflab.report.files import load_invocations, write_invocations

REPO = Path(__file__).resolve().parents[2]
LATEST = REPO / "reports" / "latest"
PNG_SIGNATURE = b"\x89PNG\r\n\x1a\n"
WIDTH = round(plots.FIGSIZE[0] * plots.DPI)
HEIGHT = round(plots.FIGSIZE[1] * plots.DPI)


def assert_png(path: Path) -> None:
    data = path.read_bytes()
    assert data[:8] == PNG_SIGNATURE, path
    assert data[12:16] == b"IHDR", path
    width, height = struct.unpack(">II", data[16:24])
    assert (width, height) == (WIDTH, HEIGHT), path
    assert len(data) > 10_000, f"{path}: suspiciously small ({len(data)} bytes)"


def no_pyplot_figures() -> bool:
    import matplotlib.pyplot as plt

    return plt.get_fignums() == []


def row(config: str, index: int, *, t0: float = 1000.0, **over: Any) -> dict[str, Any]:
    compute, storage = config.split("-")
    dispatched = t0 + 0.01 * index
    started = dispatched + 0.2 + 0.05 * index
    latency_s = 0.3 + 0.01 * index
    base: dict[str, Any] = {
        "run_id": f"run-{config}",
        "index": index,
        "compute": compute,
        "storage": storage,
        "latency_ms": latency_s * 1000,
        "bytes": 1000,
        "sha256_ok": True,
        "cold_start": index % 3 == 0,
        "error": None,
        "error_message": None,
        "attempt": 1,
        "ttfb_ms": 100.0,
        "scheduling_delay_ms": (started - dispatched) * 1000,
        "init_ms": 50.0 if index % 3 == 0 else None,
        "started_at": started,
        "finished_at": started + latency_s,
        "dispatched_at": dispatched,
        "environment_id": f"env-{index}",
        "cached": False,
    }
    base.update(over)
    return base


def failed_row(config: str, index: int) -> dict[str, Any]:
    return row(
        config,
        index,
        error="StorageError",
        error_message="boom",
        sha256_ok=None,
        latency_ms=None,
        ttfb_ms=None,
        finished_at=None,
        bytes=None,
    )


@pytest.fixture
def synthetic() -> list[dict[str, Any]]:
    rows = [row("lambda-s3", i) for i in range(30)]
    rows += [row("lambda-rds", i, latency_ms=50.0 * (i + 1)) for i in range(20)]  # > 20x spread: log x
    rows += [failed_row("lambda-rds", 20), failed_row("lambda-rds", 21)]
    rows += [failed_row("ecs-s3", i) for i in range(5)]  # failed only
    return rows


def test_load_invocations_types_cells(tmp_path: Path, synthetic: list[dict[str, Any]]) -> None:
    write_invocations(tmp_path, synthetic)
    loaded = load_invocations(tmp_path / "invocations.csv")
    assert len(loaded) == len(synthetic)
    first = loaded[0]
    assert isinstance(first["index"], int) and isinstance(first["bytes"], int)
    assert isinstance(first["latency_ms"], float) and isinstance(first["started_at"], float)
    assert first["sha256_ok"] is True and first["cold_start"] is True and first["cached"] is False
    assert first["error"] is None and first["init_ms"] == 50.0
    failed = next(r for r in loaded if r["compute"] == "ecs")
    assert failed["error"] == "StorageError" and failed["latency_ms"] is None and failed["sha256_ok"] is None


def test_each_plot_on_synthetic_rows(tmp_path: Path, synthetic: list[dict[str, Any]]) -> None:
    out = [plots.latency_cdf(synthetic, tmp_path / "cdf.png", source="local, synthetic, 2 vCPU")]
    for config in ("lambda-s3", "lambda-rds", "ecs-s3", "ecs-rds"):  # ecs-s3 failed only, ecs-rds absent
        out.append(plots.timeline(synthetic, tmp_path / f"t_{config}.png", config, source="local, synthetic"))
    runs: list[dict[str, Any]] = [
        {"compute": "lambda", "storage": "s3", "throughput_mb_s": 120.5},
        {"compute": "lambda", "storage": "s3", "throughput_mb_s": 140.0},  # a repeat: mean + whisker
        {"compute": "lambda", "storage": "rds", "throughput_mb_s": 300.0},
        {"compute": "ecs", "storage": "s3", "throughput_mb_s": None},  # failed run
    ]
    out.append(plots.throughput_bars(runs, tmp_path / "tp.png", source="AWS, us-east-1"))
    out.append(plots.cost_bars({"lambda-s3": 0.0042, "ecs-s3": 1.25, "ecs-rds": 0.0}, tmp_path / "cost.png"))
    for path in out:
        assert_png(path)
    assert no_pyplot_figures()


def test_nothing_to_plot_does_not_crash(tmp_path: Path) -> None:
    only_failed = [failed_row("ecs-rds", i) for i in range(3)]
    paths = [
        plots.latency_cdf([], tmp_path / "a.png"),
        plots.latency_cdf(only_failed, tmp_path / "b.png"),
        plots.timeline([], tmp_path / "c.png", "lambda-s3"),
        plots.timeline([failed_row("ecs-rds", 0) | {"dispatched_at": None}], tmp_path / "d.png", "ecs-rds"),
        plots.throughput_bars([], tmp_path / "e.png"),
        plots.cost_bars({}, tmp_path / "f.png"),
    ]
    for path in paths:
        data = path.read_bytes()
        assert data[:8] == PNG_SIGNATURE
        assert struct.unpack(">II", data[16:24]) == (WIDTH, HEIGHT)


def test_render_all_on_latest_result(tmp_path: Path) -> None:
    if not (LATEST / "invocations.csv").exists():
        pytest.skip("no reports/latest result in this checkout")
    result = tmp_path / "latest"
    shutil.copytree(LATEST, result, ignore=shutil.ignore_patterns("plots"))
    costs = {"lambda-s3": 0.01, "lambda-rds": 0.02, "ecs-s3": 0.5, "ecs-rds": 0.6}
    written = plots.render_all(result, costs=costs)
    configs = sorted({plots.configuration(r) for r in load_invocations(result / "invocations.csv")})
    expected = {"latency_cdf.png", "throughput.png", "cost_per_1000.png"}
    expected |= {f"timeline_{c}.png" for c in configs}
    assert {p.name for p in written} == expected
    assert {p.parent for p in written} == {result / "plots"}
    for path in written:
        assert_png(path)
    assert no_pyplot_figures()


def test_render_all_without_costs_and_to_out_dir(tmp_path: Path, synthetic: list[dict[str, Any]]) -> None:
    write_invocations(tmp_path, synthetic)  # no summary.json: still renders
    written = plots.render_all(tmp_path, out_dir=tmp_path / "elsewhere")
    names = {p.name for p in written}
    assert "cost_per_1000.png" not in names
    assert {"latency_cdf.png", "throughput.png", "timeline_ecs-s3.png"} <= names
    assert all(p.parent == tmp_path / "elsewhere" for p in written)


def test_rendering_in_threads(tmp_path: Path, synthetic: list[dict[str, Any]]) -> None:
    errors: list[BaseException] = []

    def work(i: int) -> None:
        try:
            plots.latency_cdf(synthetic, tmp_path / f"cdf_{i}.png", source="local")
            plots.timeline(synthetic, tmp_path / f"tl_{i}.png", "lambda-s3", source="local")
        except BaseException as exc:  # pragma: no cover - reported below
            errors.append(exc)

    threads = [threading.Thread(target=work, args=(i,)) for i in range(4)]
    for t in threads:
        t.start()
    for t in threads:
        t.join()
    assert errors == []
    for i in range(4):
        assert_png(tmp_path / f"cdf_{i}.png")
        assert_png(tmp_path / f"tl_{i}.png")
