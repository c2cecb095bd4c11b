"""The cost model against hand-computed bills (AWS_FACTS.md's worked arithmetic) and a real result."""

from __future__ import annotations

import csv
import json
import math
import tomllib
from collections.abc import Mapping
from pathlib import Path
from typing import Any

import pytest

from perflab.deploy import DOWNLOAD_MEMORY_MB
from perflab.report.cost import (
    FARGATE_STARTUP_ALLOWANCE_S,
    PARENT_STATES,
    CostBreakdown,
    Prices,
    format_cost_table,
    load_prices,
    run_cost,
)

REPO = Path(__file__).resolve().parents[2]
LATEST = REPO / "reports" / "latest"
# The deployed Fargate task definition (perflab/deploy.py): cpu "1024", memory "2048".
TASK_VCPU, TASK_MEMORY_GB = 1.0, 2.0


@pytest.fixture(scope="module")
def prices() -> Prices:
    return load_prices()


def _run(compute: str, storage: str, n: int, **extra: Any) -> dict[str, Any]:
    return {
        "run_id": f"run-{compute}-{storage}",
        "compute": compute,
        "storage": storage,
        "invocations": {"requested": n},
        "s3_range_parts": 0,
        **extra,
    }


def _rows(
    n: int,
    *,
    latency_ms: float = 3000.0,
    cold: bool = False,
    init_ms: float | None = None,
    duration_s: float = 10.0,
) -> list[dict[str, Any]]:
    return [
        {
            "index": i,
            "latency_ms": latency_ms,
            "cold_start": cold,
            "init_ms": init_ms,
            "started_at": 1000.0 + i,
            "finished_at": 1000.0 + i + duration_s,
            "error": "",
            "attempt": 1,
        }
        for i in range(n)
    ]


def _cost(run: Mapping[str, Any], rows: list[dict[str, Any]], prices: Prices, **kw: Any) -> CostBreakdown:
    sizes: dict[str, Any] = {"lambda_memory_mb": 1024, "task_vcpu": 0.5, "task_memory_gb": 1.0}
    sizes.update(kw)
    return run_cost(run, rows, prices, **sizes)


def _line_cost(breakdown: CostBreakdown, prefix: str) -> float:
    return math.fsum(line.cost for line in breakdown.lines if line.item.startswith(prefix))


# ---------------------------------------------------------------------------------------- price file


def test_price_file_loads_and_every_price_is_sourced_and_dated(prices: Prices) -> None:
    assert prices.region == "us-east-1"
    assert prices.retrieved
    expected = {
        "lambda_gb_second_x86_64",
        "lambda_gb_second_arm64",
        "lambda_request_x86_64",
        "lambda_request_arm64",
        "fargate_vcpu_hour_x86_64",
        "fargate_gb_hour_x86_64",
        "fargate_vcpu_hour_arm64",
        "fargate_gb_hour_arm64",
        "stepfunctions_standard_transition",
        "s3_get_request",
        "dynamodb_write_request_unit",
        "rds_instance_hour_db.t4g.micro",
        "rds_instance_hour_db.t3.micro",
        "apigateway_http_request",
    }
    assert expected <= set(prices.prices)
    for key, price in prices.prices.items():
        assert price.source.startswith("https://"), key
        assert price.source_date, key
        assert price.unit, key
        assert price.value > 0, key
    for key in ("fargate_vcpu_hour_x86_64", "fargate_gb_hour_arm64"):
        assert prices.get(key).minimum_billed_seconds == 60
        assert prices.get(key).billing_granularity_seconds == 1
        assert prices.get(key).third_party
    assert prices.get("rds_instance_hour_db.t4g.micro").runs_per_month == 1000
    assert prices.get("dynamodb_write_request_unit").third_party
    assert not prices.get("lambda_gb_second_x86_64").third_party
    # The rates AWS_FACTS.md records.
    assert prices.get("lambda_gb_second_x86_64").value == 0.0000166667
    assert prices.get("stepfunctions_standard_transition").value == 0.025 / 1000
    assert prices.get("fargate_vcpu_hour_x86_64").value == 0.04048


def test_price_file_without_a_source_is_refused(tmp_path: Path) -> None:
    data = json.loads((REPO / "perflab" / "report" / "prices-us-east-1.json").read_text())
    del data["prices"]["s3_get_request"]["source"]
    bad = tmp_path / "prices.json"
    bad.write_text(json.dumps(data))
    with pytest.raises(ValueError, match="s3_get_request"):
        load_prices(bad)
    data = json.loads((REPO / "perflab" / "report" / "prices-us-east-1.json").read_text())
    del data["retrieved"]
    bad.write_text(json.dumps(data))
    with pytest.raises(ValueError, match="retrieved"):
        load_prices(bad)


def test_price_file_ships_as_package_data() -> None:
    config = tomllib.loads((REPO / "pyproject.toml").read_text())
    assert "report/*.json" in config["tool"]["setuptools"]["package-data"]["perflab"]


# -------------------------------------------------------------------------------- hand-computed bills


def test_lambda_100_invocations_of_3_s_at_1_gb(prices: Prices) -> None:
    bill = _cost(_run("lambda", "s3", 100), _rows(100), prices)
    duration = bill.lines[0]
    assert duration.quantity == pytest.approx(300.0)  # GB-s
    assert duration.cost == pytest.approx(0.0050, abs=5e-7)
    assert _line_cost(bill, "Lambda requests") == pytest.approx(100 * 0.2 / 1e6)
    assert _line_cost(bill, "S3 GET") == pytest.approx(0.00004)
    assert _line_cost(bill, "DynamoDB") == pytest.approx(101 * 0.625 / 1e6)
    assert _line_cost(bill, "API Gateway") == pytest.approx(0.000001)
    transitions = PARENT_STATES + 100 * 3
    assert _line_cost(bill, "Step Functions") == pytest.approx(transitions * 0.000025)
    assert bill.total == pytest.approx(
        300 * 0.0000166667 + 100 * 0.2e-6 + transitions * 0.000025 + 100 * 0.0004e-3 + 101 * 0.625e-6 + 1e-6
    )


def test_lambda_arm64_is_about_20_percent_cheaper(prices: Prices) -> None:
    rows = _rows(100, latency_ms=2000.0)
    x86 = _cost(_run("lambda", "s3", 100), rows, prices, lambda_memory_mb=1769)
    arm = _cost(_run("lambda", "s3", 100), rows, prices, lambda_memory_mb=1769, lambda_arch="arm64")
    assert x86.lines[0].quantity == pytest.approx(345.5, abs=0.05)
    assert x86.lines[0].cost == pytest.approx(0.0058, abs=5e-5)
    assert arm.lines[0].cost / x86.lines[0].cost == pytest.approx(0.8, abs=1e-4)


def test_lambda_cold_start_bills_init_and_rounds_up_to_1_ms(prices: Prices) -> None:
    rows = _rows(1, latency_ms=1000.2, cold=True, init_ms=200.3)
    bill = _cost(_run("lambda", "s3", 1), rows, prices)
    assert bill.lines[0].quantity == pytest.approx(1.201)  # ceil(1200.5 ms) = 1201 ms at 1 GB
    warm = _cost(_run("lambda", "s3", 1), _rows(1, latency_ms=1000.2, init_ms=200.3), prices)
    assert warm.lines[0].quantity == pytest.approx(1.001)  # a warm invocation's init_ms is not billed


def test_fargate_100_tasks_of_10_s_billed_as_60_s(prices: Prices) -> None:
    bill = _cost(_run("ecs", "s3", 100), _rows(100, duration_s=10.0), prices)
    fargate = _line_cost(bill, "Fargate")
    assert fargate == pytest.approx(100 * (0.5 * 0.04048 + 1 * 0.004445) / 60)
    assert fargate == pytest.approx(0.041, abs=5e-4)
    arm = _cost(_run("ecs", "s3", 100), _rows(100, duration_s=10.0), prices, task_arch="arm64")
    assert _line_cost(arm, "Fargate") == pytest.approx(0.033, abs=5e-4)
    assert _line_cost(bill, "Lambda") == 0


def test_fargate_longer_tasks_bill_per_second_with_start_up_allowance(prices: Prices) -> None:
    rows = _rows(1, duration_s=100.0, init_ms=500.0)
    bill = _cost(_run("ecs", "s3", 1), rows, prices)
    billed_s = math.ceil(100.0 + 0.5 + FARGATE_STARTUP_ALLOWANCE_S)
    vcpu = bill.line("Fargate vCPU (x86_64)")
    assert vcpu is not None
    assert vcpu.quantity == pytest.approx(billed_s / 3600 * 0.5)
    recorded = [{**rows[0], "task_billed_s": 75.2}]
    vcpu = _cost(_run("ecs", "s3", 1), recorded, prices).line("Fargate vCPU (x86_64)")
    assert vcpu is not None
    assert vcpu.quantity == pytest.approx(76 / 3600 * 0.5)


def test_transitions_counted_when_given(prices: Prices) -> None:
    bill = _cost(_run("lambda", "s3", 100), _rows(100), prices, transitions=300)
    assert _line_cost(bill, "Step Functions") == pytest.approx(0.0075)
    line = bill.line("Step Functions transitions")
    assert line is not None and "counted" in line.note


def test_stored_transitions_are_used_and_labelled(prices: Prices) -> None:
    """A summary that stores the count from the history (perflab bench) is billed with it; an old
    summary without it falls back to the estimate; the table says which is which."""
    counted = _cost(_run("lambda", "s3", 100, transitions=321), _rows(100), prices)
    old = _cost(_run("lambda", "rds", 100), _rows(100), prices)
    counted_line, old_line = (
        counted.line("Step Functions transitions"),
        old.line("Step Functions transitions"),
    )
    assert counted_line is not None and old_line is not None
    assert counted_line.quantity == 321
    assert counted_line.note == "counted from the execution history"
    assert old_line.quantity == PARENT_STATES + 100 * 3
    assert old_line.note == "estimated from the state machine"
    # An explicit argument still wins over the stored count; a malformed stored value is ignored.
    assert _line_cost(
        _cost(_run("lambda", "s3", 100, transitions=321), _rows(100), prices, transitions=10), "Step"
    ) == pytest.approx(10 * 0.000025)
    for bad in (True, -1, "321", 3.5):
        line = _cost(_run("lambda", "s3", 100, transitions=bad), _rows(100), prices).line(
            "Step Functions transitions"
        )
        assert line is not None and line.quantity == PARENT_STATES + 100 * 3, bad
    table = format_cost_table([counted, old])
    assert "lambda/s3 `run-lambda-s3` counted from the execution history" in table
    assert "lambda/rds `run-lambda-rds` estimated from the state machine" in table


def test_failures_and_retries_add_transitions_and_requests(prices: Prices) -> None:
    rows = _rows(10)
    rows[0].update(error="DownloadError", latency_ms="")
    rows[1].update(attempt=3)
    bill = _cost(_run("lambda", "s3", 10), rows, prices)
    line = bill.line("Step Functions transitions")
    assert line is not None
    assert line.quantity == PARENT_STATES + 10 * 3 + 2 + 2
    requests = bill.line("Lambda requests (x86_64)")
    assert requests is not None and requests.quantity == 12
    assert bill.downloads == 9


def test_s3_ranged_gets(prices: Prices) -> None:
    bill = _cost(_run("lambda", "s3", 100, s3_range_parts=4), _rows(100), prices)
    assert _line_cost(bill, "S3 GET") == pytest.approx(0.00016)


def test_rds_instance_hours_amortised_over_runs_per_month(prices: Prices) -> None:
    bill = _cost(_run("lambda", "rds", 100), _rows(100), prices)
    assert _line_cost(bill, "RDS") == pytest.approx(730 / 1000 * 0.016)
    assert _line_cost(bill, "S3") == 0
    fewer = _cost(
        _run("lambda", "rds", 100), _rows(100), prices, runs_per_month=100, rds_instance_class="db.t3.micro"
    )
    assert _line_cost(fewer, "RDS") == pytest.approx(730 / 100 * 0.018)


def test_per_1000_downloads_scales(prices: Prices) -> None:
    small = _cost(_run("lambda", "s3", 100), _rows(100), prices)
    big = _cost(_run("lambda", "s3", 200), _rows(200), prices)
    assert small.per_1000_downloads == pytest.approx(small.total * 10)
    assert big.per_1000_downloads == pytest.approx(big.total * 5)
    for prefix in ("Lambda", "S3 GET"):  # per-download lines double exactly
        assert _line_cost(big, prefix) == pytest.approx(2 * _line_cost(small, prefix))
    # Fixed costs (API request, parent transitions, summary write) spread over more downloads.
    assert big.per_1000_downloads is not None and small.per_1000_downloads is not None
    assert big.per_1000_downloads < small.per_1000_downloads
    nothing = [{**row, "error": "Boom", "latency_ms": ""} for row in _rows(3)]
    assert _cost(_run("lambda", "s3", 3), nothing, prices).per_1000_downloads is None


def test_unknown_architecture_and_compute_are_refused(prices: Prices) -> None:
    with pytest.raises(ValueError, match="architecture"):
        _cost(_run("lambda", "s3", 1), _rows(1), prices, lambda_arch="sparc")
    with pytest.raises(ValueError, match="compute"):
        _cost(_run("ec2", "s3", 1), _rows(1), prices)


# ------------------------------------------------------------------------------------- a real result


def test_real_result_costs_every_configuration(prices: Prices) -> None:
    summary = json.loads((LATEST / "summary.json").read_text())
    with (LATEST / "invocations.csv").open(newline="") as handle:
        rows = list(csv.DictReader(handle))
    bills = [
        run_cost(
            run,
            rows,
            prices,
            lambda_memory_mb=DOWNLOAD_MEMORY_MB,
            task_vcpu=TASK_VCPU,
            task_memory_gb=TASK_MEMORY_GB,
        )
        for run in summary["runs"]
    ]
    assert {(b.compute, b.storage) for b in bills} == {
        ("lambda", "s3"),
        ("lambda", "rds"),
        ("ecs", "s3"),
        ("ecs", "rds"),
    }
    for bill, run in zip(bills, summary["runs"], strict=True):
        assert bill.total > 0
        assert bill.downloads == run["invocations"]["succeeded"]
        assert bill.per_1000_downloads is not None and bill.per_1000_downloads > 0
        for line in bill.lines:
            assert line.cost >= 0 and line.source and line.source_date
    table = format_cost_table(bills)
    for bill in bills:
        assert f"{bill.compute}/{bill.storage}" in table
        assert f"${bill.total:.6f}" in table
    assert "per 1,000 downloads" in table
    assert "(third-party)" in table
