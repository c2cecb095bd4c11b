"""perflab.stats against numpy's default (linear) percentile on random samples, plus edge cases."""

from __future__ import annotations

import math
import random

import numpy as np
import pytest

from perflab import stats

QS = [0, 1, 5, 10, 25, 33.3, 50, 66.7, 75, 90, 95, 99, 99.9, 100]


@pytest.mark.parametrize("seed", range(20))
def test_percentile_matches_numpy_on_random_samples(seed: int) -> None:
    rng = random.Random(seed)
    n = rng.choice([1, 2, 3, 7, 10, 99, 100, 101, 1000])
    samples = [rng.lognormvariate(3.0, 1.0) for _ in range(n)]
    for q in [*QS, rng.uniform(0, 100)]:
        assert stats.percentile(samples, q) == pytest.approx(float(np.percentile(samples, q)), rel=1e-12)


def test_percentile_with_ties_and_negative_values() -> None:
    samples = [-5.0, -5.0, 0.0, 0.0, 0.0, 3.5, 3.5, 1e9]
    for q in QS:
        assert stats.percentile(samples, q) == pytest.approx(float(np.percentile(samples, q)), rel=1e-12)


def test_percentile_hand_checked() -> None:
    # rank = (n - 1) * q / 100 = 3 * 0.5 = 1.5 -> halfway between 20 and 30
    assert stats.percentile([40, 10, 30, 20], 50) == 25.0
    assert stats.percentile([40, 10, 30, 20], 90) == pytest.approx(37.0)
    assert stats.percentile([7], 99) == 7.0


@pytest.mark.parametrize(
    ("samples", "q"), [([], 50), ([1.0], -1), ([1.0], 100.5), ([1.0, math.nan], 50), ([1.0], math.nan)]
)
def test_percentile_rejects_bad_input(samples: list[float], q: float) -> None:
    with pytest.raises(ValueError):
        stats.percentile(samples, q)


@pytest.mark.parametrize("seed", range(5))
def test_latency_stats_match_numpy(seed: int) -> None:
    rng = np.random.default_rng(seed)
    samples = rng.gamma(2.0, 50.0, size=int(rng.integers(1, 500))).tolist()
    got = stats.latency_stats(samples)
    assert list(got) == ["mean", "median", "p90", "p95", "p99", "min", "max"]
    expected = {
        "mean": np.mean(samples),
        "median": np.median(samples),
        "p90": np.percentile(samples, 90),
        "p95": np.percentile(samples, 95),
        "p99": np.percentile(samples, 99),
        "min": np.min(samples),
        "max": np.max(samples),
    }
    for key, value in expected.items():
        assert got[key] == pytest.approx(float(value), rel=1e-12), key


def test_latency_stats_empty_and_single() -> None:
    assert stats.latency_stats([]) == dict.fromkeys(stats.LATENCY_KEYS)
    assert set(stats.latency_stats([4.5]).values()) == {4.5}


def test_latency_stats_accepts_generators() -> None:
    assert stats.latency_stats(x for x in [1, 2, 3])["median"] == 2.0


def test_throughput_is_megabytes_of_ten_to_the_six_per_second() -> None:
    assert stats.throughput_mb_s(25_000_000, 100.0, 102.5) == pytest.approx(10.0)
    assert stats.throughput_mb_s(0, 100.0, 102.5) is None
    assert stats.throughput_mb_s(10, 100.0, 100.0) is None
    assert stats.throughput_mb_s(10, 101.0, 100.0) is None
    assert stats.throughput_mb_s(10, None, 100.0) is None


def test_cold_start_penalty() -> None:
    assert stats.mean_cold_start_penalty_ms([300.0, 500.0], [100.0, 110.0, 120.0]) == pytest.approx(290.0)
    assert stats.mean_cold_start_penalty_ms([], [1.0]) is None
    assert stats.mean_cold_start_penalty_ms([1.0], []) is None
    assert stats.mean([]) is None
