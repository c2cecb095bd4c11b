"""summarize() on synthetic records: counts (missing included), throughput, cold-start penalty, JSON shape."""

from __future__ import annotations

import json
from typing import Any

import numpy as np
import pytest

from perflab.config import RunRequest
from perflab.download import InvocationResult
from perflab.results import COMPLETED_WITH_FAILURES, SUCCEEDED, RunSummary, summarize

RUN = "run-test-1"
MB25 = 25_000_000


def request(invocations: int, **extra: Any) -> RunRequest:
    return RunRequest(run_id=RUN, compute="lambda", storage="s3", invocations=invocations, **extra)


def record(index: int, **changes: Any) -> InvocationResult:
    values: dict[str, Any] = {
        "run_id": RUN,
        "index": index,
        "compute": "lambda",
        "storage": "s3",
        "environment_id": f"env-{index}",
        "cold_start": False,
        "init_ms": None,
        "dispatched_at": 1000.0,
        "attempt": 1,
        "started_at": 1000.0 + index,
        "finished_at": 1001.0 + index,
        "ttfb_ms": 5.0 + index,
        "latency_ms": 100.0 + 10 * index,
        "scheduling_delay_ms": 1000.0 * index,
        "bytes": MB25,
        "sha256_ok": True,
        "expected_bytes": MB25,
    }
    values.update(changes)
    return InvocationResult(**values)


def test_all_succeeded() -> None:
    records = [record(i) for i in range(4)]
    s = summarize(request(4), records, wall_s=12.5)
    assert (s.status, s.requested, s.succeeded, s.failed, s.missing) == (SUCCEEDED, 4, 4, 0, 0)
    assert s.sha256_verified is True
    assert s.bytes_total == 4 * MB25
    # first start 1000, last end 1004: 100 MB in 4 s
    assert s.throughput_mb_s == pytest.approx(25.0)
    latencies = [100.0, 110.0, 120.0, 130.0]
    assert s.latency_ms["p95"] == pytest.approx(float(np.percentile(latencies, 95)))
    assert s.latency_ms["mean"] == pytest.approx(115.0)
    assert (s.latency_ms["min"], s.latency_ms["max"]) == (100.0, 130.0)
    assert s.ttfb_ms["median"] == pytest.approx(6.5)
    assert s.scheduling_delay_ms["max"] == 3000.0
    assert s.wall_s == 12.5
    assert s.errors_by_type == {}
    assert s.artifact_bytes == MB25  # from the records when the request names no size


def test_missing_and_failed_invocations_are_all_accounted_for() -> None:
    records = [
        record(0),
        record(1, sha256_ok=False, error_type="ChecksumMismatch", error_message="bad digest"),
        record(2, sha256_ok=False, error_type="OperationalError", bytes=0, error_message="too many clients"),
        record(4),
        record(4, latency_ms=1.0),  # a duplicate of index 4: the first counts
        record(7, run_id="another-run"),  # not this run
    ]
    s = summarize(request(6, artifact_bytes=MB25), records, wall_s=None)
    assert (s.requested, s.succeeded, s.failed, s.missing) == (6, 2, 4, 2)
    assert s.succeeded + s.failed == s.requested
    assert s.status == COMPLETED_WITH_FAILURES
    assert s.sha256_verified is False
    assert s.errors_by_type == {"ChecksumMismatch": 1, "OperationalError": 1, "Missing": 2}
    assert sum(s.errors_by_type.values()) == s.failed
    assert s.latency_ms["min"] == 100.0 and s.latency_ms["max"] == 140.0  # succeeded ones only
    assert s.bytes_total == 3 * MB25  # every byte read, verified or not
    # window over records that read bytes: 1000 (index 0) .. 1005 (index 4)
    assert s.throughput_mb_s == pytest.approx(3 * MB25 / 1e6 / 5.0)
    # no wall time given: from the first dispatch (1000) to the last finish (1005)
    assert s.wall_s == pytest.approx(5.0)


def test_nothing_recorded() -> None:
    s = summarize(request(3), [], wall_s=1.0)
    assert (s.succeeded, s.failed, s.missing, s.status) == (0, 3, 3, COMPLETED_WITH_FAILURES)
    assert s.latency_ms == dict.fromkeys(["mean", "median", "p90", "p95", "p99", "min", "max"])
    assert s.throughput_mb_s is None and s.cold_start_penalty_ms is None and s.bytes_total == 0
    assert s.artifact_bytes is None


def test_sha_mismatch_without_error_type_is_a_failure() -> None:
    s = summarize(request(1), [record(0, sha256_ok=False)], wall_s=1.0)
    assert (s.succeeded, s.failed, s.errors_by_type) == (0, 1, {"ChecksumMismatch": 1})


def test_cold_start_penalty_includes_init() -> None:
    records = [
        record(0, cold_start=True, init_ms=200.0, latency_ms=300.0),
        record(1, cold_start=True, init_ms=400.0, latency_ms=500.0),
        record(2, latency_ms=100.0),
        record(3, latency_ms=120.0),
        record(4, cold_start=True, init_ms=50.0, latency_ms=5.0, sha256_ok=False, error_type="StorageError"),
    ]
    s = summarize(request(5), records, wall_s=2.0)
    assert s.cold_starts == 3
    # succeeded cold: (200+300 + 400+500) / 2 = 700; warm: 110
    assert s.cold_start_penalty_ms == pytest.approx(590.0)
    assert s.init_ms["mean"] == pytest.approx((200 + 400 + 50) / 3)


def test_no_penalty_without_warm_invocations() -> None:
    s = summarize(request(1), [record(0, cold_start=True, init_ms=10.0)], wall_s=1.0)
    assert s.cold_start_penalty_ms is None and s.cold_starts == 1


def test_retried_and_cached_counts() -> None:
    records = [record(0, attempt=2), record(1, cached=True), record(2)]
    s = summarize(request(3), records, wall_s=1.0)
    assert (s.retried, s.cached) == (1, 1)


def test_to_json_has_the_summary_json_contract_and_round_trips() -> None:
    s = summarize(request(2, label="first"), [record(0), record(1)], wall_s=3.0)
    data = json.loads(json.dumps(s.to_json()))
    for key in [
        "run_id",
        "compute",
        "storage",
        "status",
        "invocations",
        "artifact_bytes",
        "bytes_total",
        "sha256_verified",
        "latency_ms",
        "throughput_mb_s",
        "cold_starts",
        "wall_s",
        "ttfb_ms",
        "scheduling_delay_ms",
        "cold_start_penalty_ms",
        "errors_by_type",
    ]:
        assert key in data, key
    assert data["invocations"] == {"requested": 2, "succeeded": 2, "failed": 0, "missing": 0}
    assert set(data["latency_ms"]) == {"mean", "median", "p90", "p95", "p99", "min", "max"}
    assert (data["run_id"], data["compute"], data["storage"], data["label"]) == (RUN, "lambda", "s3", "first")
    assert RunSummary.from_json(data) == s
