"""perflab.perf's pure parts: round throughput, level summaries, ratios, targets, perf.json's shape."""

from __future__ import annotations

import json
from dataclasses import dataclass
from pathlib import Path

import numpy as np
import pytest

from perflab.local.smoke import all_running_after
from perflab.perf import output
from perflab.perf.harness import plan_processes
from perflab.perf.measure import meets, orchestration_overhead_s, ratio, round_throughputs, summarize_level
from perflab.perf.reference import content_length, parse_wrk
from perflab.perf.run import split_configuration


@dataclass(frozen=True)
class S:
    round: int
    started_at: float
    finished_at: float
    latency_ms: float
    bytes: int
    ok: bool = True


def samples() -> list[S]:
    # round 0: 3 x 10 MB within 0.5 s (60 MB/s); round 1: 3 x 10 MB within 1.0 s (30 MB/s)
    return [
        S(0, 100.0, 100.4, 400.0, 10_000_000),
        S(0, 100.1, 100.5, 400.0, 10_000_000),
        S(0, 100.0, 100.3, 300.0, 10_000_000),
        S(1, 200.0, 201.0, 1000.0, 10_000_000),
        S(1, 200.2, 200.9, 700.0, 10_000_000),
        S(1, 200.5, 200.8, 300.0, 10_000_000),
    ]


def test_round_throughput_is_bytes_over_the_rounds_window() -> None:
    assert round_throughputs(samples()) == pytest.approx([60.0, 30.0])


def test_level_takes_the_median_round_and_percentiles_from_every_raw_sample() -> None:
    level = summarize_level([*samples(), S(1, 200.0, 200.1, 5.0, 0, ok=False)], 3, reference_mb_s=90.0)
    assert level["mb_s"] == pytest.approx(45.0)  # median of 60 and 30
    assert level["ratio"] == pytest.approx(0.5)
    latencies = [s.latency_ms for s in samples()]
    assert level["p50_ms"] == pytest.approx(float(np.percentile(latencies, 50)), abs=0.01)
    assert level["p99_ms"] == pytest.approx(float(np.percentile(latencies, 99)), abs=0.01)
    assert (level["samples"], level["failed"], level["concurrency"]) == (6, 1, 3)
    assert level["rounds_mb_s"] == [60.0, 30.0]


def test_level_without_successes_has_no_figures() -> None:
    level = summarize_level([S(0, 1.0, 2.0, 1000.0, 0, ok=False)], 1, reference_mb_s=100.0)
    assert (level["mb_s"], level["ratio"], level["p50_ms"], level["failed"]) == (None, None, None, 1)


@pytest.mark.parametrize(
    ("value", "reference", "expected"),
    [(450.0, 900.0, 0.5), (1.0, 3.0, 0.333), (None, 900.0, None), (450.0, None, None), (450.0, 0.0, None)],
)
def test_ratio(value: float | None, reference: float | None, expected: float | None) -> None:
    assert ratio(value, reference) == expected


def test_meets_and_overhead_and_all_running() -> None:
    assert meets(0.95, 0.9) is True and meets(0.5, 0.9) is False and meets(None, 0.9) is None
    assert meets(30.0, 64.0, at_most=True) is True and meets(70.0, 64.0, at_most=True) is False
    assert orchestration_overhead_s(5.0, [1200.0, 3000.0]) == pytest.approx(2.0)
    assert orchestration_overhead_s(None, [1.0]) is None and orchestration_overhead_s(1.0, []) is None
    assert all_running_after(100.0, [100.5, 101.25], 2) == pytest.approx(1.25)
    assert all_running_after(100.0, [100.5], 2) is None  # one invocation never reported its start
    assert all_running_after(None, [100.5], 1) is None


def test_plan_processes_splits_clients() -> None:
    assert plan_processes(8, 3) == [3, 3, 2]
    assert plan_processes(100, 1) == [1] * 100
    with pytest.raises(ValueError):
        plan_processes(0, 1)


WRK_OUTPUT = """Running 3s test @ http://127.0.0.1:8080/artifact.bin
  2 threads and 100 connections
  Thread Stats   Avg      Stdev     Max   +/- Stdev
    Latency     1.06s   300.00ms   1.97s    60.00%
  Latency Distribution
     50%    1.06s
     75%    1.30s
     90%    1.70s
     99%  850.50ms
  58 requests in 3.00s, 1.34GB read
Requests/sec:     19.47
Transfer/sec:    539.03MB
"""


def test_parse_wrk_converts_binary_units_to_decimal_megabytes() -> None:
    parsed = parse_wrk(WRK_OUTPUT)
    assert parsed["mb_s"] == pytest.approx(539.03 * 1024 * 1024 / 1e6)
    assert parsed["p50_ms"] == pytest.approx(1060.0)
    assert parsed["p99_ms"] == pytest.approx(850.5)
    assert parsed["requests_s"] == pytest.approx(19.47)
    assert parse_wrk("garbage")["mb_s"] is None


def test_content_length() -> None:
    assert content_length(b"HTTP/1.1 200 OK\r\nServer: x\r\nContent-Length: 42") == 42
    with pytest.raises(ValueError):
        content_length(b"HTTP/1.1 200 OK\r\nServer: x")


def test_split_configuration() -> None:
    assert split_configuration("ecs-rds") == ("ecs", "rds")
    for bad in ("lambda", "gpu-s3", "lambda-dynamo"):
        with pytest.raises(ValueError):
            split_configuration(bad)


def level(concurrency: int, mb_s: float, ratio_: float | None, rss: float) -> dict[str, object]:
    return {
        "concurrency": concurrency,
        "mb_s": mb_s,
        "ratio": ratio_,
        "p50_ms": 10.0,
        "p99_ms": 20.0,
        "download_rss_above_interpreter_mb": rss,
        "failed": 0,
    }


def document() -> dict[str, object]:
    datapath = {
        "s3": {"c1": level(1, 400.0, 0.4, 20.0), "c100": level(100, 950.0, 0.95, 30.0)},
        "rds_chunks": {"c1": level(1, 300.0, 0.3, 10.0), "c100": level(100, 700.0, 0.7, 12.0)},
    }
    pipeline = {
        "lambda-s3": {"compute": "lambda", "cold_starts": 100, "all_running_s": 3.5, "wall_s": 9.0},
        "lambda-rds": {"compute": "lambda", "cold_starts": 0, "all_running_s": 1.5, "wall_s": 5.0},
        "ecs-s3": {"compute": "ecs", "cold_starts": 100, "all_running_s": 4.0, "wall_s": 12.0},
    }
    scaling = {
        "configuration": "lambda-rds",
        "by_invocations": [
            {"invocations": n, "artifact_bytes": 24_800_000, "wall_s": w, "latency_p50_ms": 100.0}
            for n, w in ((10, 1.0), (100, 5.0), (1000, 40.0))
        ],
        "by_artifact_bytes": [],
    }
    return output.document(
        machine={"cpus": 2},
        plan={"rounds": 3},
        reference={
            "server": "nginx",
            "clients": ["wrk", "socket"],
            "bytes": 1,
            "levels": {
                "c1": {"concurrency": 1, "mb_s": 1000.0},
                "c100": {"concurrency": 100, "mb_s": 1000.0},
            },
        },
        datapath=datapath,
        pipeline=pipeline,
        bench_equivalent_s=95.0,
        scaling=scaling,
        date="2026-01-01T00:00:00+00:00",
        perf_wall_s=300.0,
    )


def test_document_has_the_issues_keys_and_judges_the_targets(tmp_path: Path) -> None:
    doc = document()
    path = output.write_json(tmp_path, doc)
    loaded = json.loads(path.read_text())
    assert loaded["schema"] == "perflab.perf/1"
    assert loaded["reference_mb_s"] == 1000.0  # the highest concurrency level
    assert loaded["datapath"]["s3"]["c100"]["mb_s"] == 950.0
    assert loaded["datapath"]["s3"]["c100"]["ratio"] == 0.95
    assert loaded["pipeline"]["lambda-s3"]["wall_s"] == 9.0
    assert loaded["pipeline"]["lambda-s3"]["all_running_s"] == 3.5
    assert loaded["download_peak_rss_mb"] == 30.0  # the worst layout and level
    met = {t["name"]: (t["value"], t["met"]) for t in loaded["targets"]}
    assert met["s3 ratio at c100"] == (0.95, True)
    assert met["rds_chunks ratio at c100"] == (0.7, False)
    assert met["one download's peak RSS above its interpreter (MB)"] == (30.0, True)
    # only warm Lambda runs count (environments exist): lambda-rds, not the cold lambda-s3 or ECS
    assert met["all invocations running after MapRunStarted, warm Lambda (s)"] == (1.5, True)
    assert met["make bench equivalent: stack, deploy, seed, four runs (s)"] == (95.0, True)


def test_tables_and_plot(tmp_path: Path) -> None:
    doc = document()
    text = output.format_tables(doc)
    for expected in ("Loopback reference: nginx", "rds_chunks", "lambda-rds", "N=1000 24.8 MB", "Targets"):
        assert expected in text
    plot = output.plot_scaling(doc["scaling"], tmp_path)  # type: ignore[arg-type]
    assert plot is not None and plot.stat().st_size > 10_000
    assert output.plot_scaling({"by_invocations": [], "by_artifact_bytes": []}, tmp_path / "none") is None
