"""perflab.report.compare: bootstrap CI on synthetic data, Mann-Whitney U against scipy, pairings."""

from __future__ import annotations

import statistics
import time

import numpy as np
import pytest
from scipy import stats as sps

from perflab.report.compare import (
    Comparison,
    compare_runs,
    mann_whitney_u,
    median_difference_ci,
    repeat_spread,
)


def _lognormal(seed: int, n: int, shift: float = 0.0) -> list[float]:
    rng = np.random.default_rng(seed)
    return [float(x) + shift for x in rng.lognormal(mean=3.0, sigma=0.5, size=n)]


# --- bootstrap CI ----------------------------------------------------------------------------


def test_ci_covers_known_shift_and_excludes_zero() -> None:
    # Same distribution shifted by 15 ms: the true difference of medians is exactly 15.
    a = _lognormal(1, 150, shift=15.0)
    b = _lognormal(2, 120)
    diff, low, high = median_difference_ci(a, b)
    assert diff == pytest.approx(float(np.median(a) - np.median(b)))
    assert low <= diff <= high
    assert low <= 15.0 <= high
    assert low > 0.0


def test_ci_includes_zero_without_shift() -> None:
    a, b = _lognormal(3, 100), _lognormal(4, 100)
    _, low, high = median_difference_ci(a, b)
    assert low < 0.0 < high


def test_ci_coverage_is_close_to_nominal() -> None:
    shift = 5.0
    covered = 0
    trials = 100
    for i in range(trials):
        _, low, high = median_difference_ci(
            _lognormal(1000 + i, 100, shift), _lognormal(5000 + i, 100), resamples=2000, seed=i
        )
        covered += low <= shift <= high
    assert covered >= 88  # nominal 95; binomial sd ~2.2 plus the percentile bootstrap's small bias


def test_ci_is_deterministic_with_a_seed_and_varies_without() -> None:
    a, b = _lognormal(5, 80, 3.0), _lognormal(6, 90)
    assert median_difference_ci(a, b, seed=7) == median_difference_ci(a, b, seed=7)
    assert median_difference_ci(a, b, seed=7) != median_difference_ci(a, b, seed=8)


def test_ci_wider_at_higher_confidence() -> None:
    a, b = _lognormal(7, 100, 2.0), _lognormal(8, 100)
    _, lo90, hi90 = median_difference_ci(a, b, confidence=0.90)
    _, lo99, hi99 = median_difference_ci(a, b, confidence=0.99)
    assert lo99 <= lo90 and hi90 <= hi99


def test_ci_is_fast() -> None:
    a, b = _lognormal(9, 100), _lognormal(10, 100)
    start = time.perf_counter()
    median_difference_ci(a, b, resamples=10_000)
    assert time.perf_counter() - start < 1.0


def test_ci_large_groups_are_chunked() -> None:
    a, b = _lognormal(11, 5000, 1.0), _lognormal(12, 5000)
    diff, low, high = median_difference_ci(a, b, resamples=2000)
    assert low <= diff <= high


@pytest.mark.parametrize(
    ("a", "b", "kwargs"),
    [
        ([], [1.0], {}),
        ([1.0], [], {}),
        ([1.0, float("nan")], [1.0], {}),
        ([1.0, float("inf")], [1.0], {}),
        ([1.0], [2.0], {"confidence": 1.0}),
        ([1.0], [2.0], {"confidence": 0.0}),
        ([1.0], [2.0], {"resamples": 0}),
    ],
)
def test_ci_rejects_bad_input(a: list[float], b: list[float], kwargs: dict[str, float]) -> None:
    with pytest.raises(ValueError):
        median_difference_ci(a, b, **kwargs)  # type: ignore[arg-type]


# --- Mann-Whitney U --------------------------------------------------------------------------


def _scipy_mwu(a: list[float], b: list[float]) -> tuple[float, float]:
    res = sps.mannwhitneyu(a, b, alternative="two-sided", method="asymptotic", use_continuity=True)
    return float(res.statistic), float(res.pvalue)


@pytest.mark.parametrize("seed", range(12))
def test_mann_whitney_matches_scipy_continuous(seed: int) -> None:
    rng = np.random.default_rng(seed)
    n_a, n_b = int(rng.integers(3, 200)), int(rng.integers(3, 200))
    a = [float(x) for x in rng.lognormal(3.0, 0.6, n_a)]
    b = [float(x) for x in rng.lognormal(3.0 + rng.uniform(-0.3, 0.3), 0.6, n_b)]
    u, p = mann_whitney_u(a, b)
    su, sp = _scipy_mwu(a, b)
    assert u == pytest.approx(su, rel=1e-12)
    assert p == pytest.approx(sp, rel=1e-9, abs=1e-300)


@pytest.mark.parametrize("seed", range(12))
def test_mann_whitney_matches_scipy_with_ties(seed: int) -> None:
    # Latencies rounded to whole milliseconds: many ties, within and across groups.
    rng = np.random.default_rng(100 + seed)
    n_a, n_b = int(rng.integers(5, 150)), int(rng.integers(5, 150))
    a = [float(x) for x in np.round(rng.normal(20.0, 3.0, n_a))]
    b = [float(x) for x in np.round(rng.normal(20.0 + rng.uniform(-2, 2), 3.0, n_b))]
    u, p = mann_whitney_u(a, b)
    su, sp = _scipy_mwu(a, b)
    assert u == pytest.approx(su, rel=1e-12)
    assert p == pytest.approx(sp, rel=1e-9, abs=1e-300)


@pytest.mark.parametrize(
    ("a", "b"),
    [
        ([1.0, 2.0, 3.0], [4.0, 5.0, 6.0, 7.0, 8.0]),  # complete separation, unequal sizes
        ([5.0, 5.0, 5.0, 1.0], [5.0, 5.0, 9.0]),  # heavy ties
        ([1.0, 2.0], [1.0, 2.0]),  # identical
        ([3.0], [1.0, 2.0, 4.0, 5.0, 6.0]),  # single sample on one side
        ([0.5, 0.5, 0.5, 0.5, 2.0, 3.0], [0.5, 0.5, 1.0]),
        ([4.0, 4.0, 4.0], [4.0, 4.0]),  # all tied: zero variance, scipy also says p = 1
    ],
)
def test_mann_whitney_matches_scipy_edge_cases(a: list[float], b: list[float]) -> None:
    u, p = mann_whitney_u(a, b)
    su, sp = _scipy_mwu(a, b)
    assert u == pytest.approx(su, rel=1e-12)
    assert p == pytest.approx(sp, rel=1e-9)


def test_mann_whitney_hand_checked() -> None:
    # a entirely below b: a wins no comparison, U_a = 0; U_b = n_a * n_b.
    u, p = mann_whitney_u([1.0, 2.0, 3.0], [10.0, 11.0, 12.0, 13.0])
    assert u == 0.0
    assert 0.0 < p < 0.1
    u, _ = mann_whitney_u([10.0, 11.0, 12.0], [1.0, 2.0, 3.0, 4.0])
    assert u == 12.0


def test_mann_whitney_all_tied_has_no_evidence() -> None:
    assert mann_whitney_u([4.0, 4.0, 4.0], [4.0, 4.0]) == (3.0, 1.0)


def test_mann_whitney_rejects_empty_and_nan() -> None:
    with pytest.raises(ValueError):
        mann_whitney_u([], [1.0])
    with pytest.raises(ValueError):
        mann_whitney_u([1.0], [float("nan")])


# --- compare_runs ----------------------------------------------------------------------------


def _runs() -> dict[str, list[float]]:
    # lambda clearly faster than ecs on S3; S3 and RDS indistinguishable on lambda; ecs-rds faster.
    return {
        "lambda-s3": _lognormal(21, 120),
        "lambda-rds": _lognormal(22, 120),
        "ecs-s3": _lognormal(23, 120, shift=30.0),
        "ecs-rds": _lognormal(24, 120, shift=-8.0),
    }


def test_compare_runs_pairs_and_verdicts() -> None:
    runs = _runs()
    result = compare_runs(runs)
    assert [(c.label, c.a_label, c.b_label) for c in result] == [
        ("Lambda vs ECS (S3)", "lambda-s3", "ecs-s3"),
        ("Lambda vs ECS (RDS)", "lambda-rds", "ecs-rds"),
        ("S3 vs RDS (Lambda)", "lambda-s3", "lambda-rds"),
        ("S3 vs RDS (ECS)", "ecs-s3", "ecs-rds"),
    ]
    by_label = {c.label: c for c in result}
    assert by_label["Lambda vs ECS (S3)"].verdict == "a faster"
    assert by_label["Lambda vs ECS (RDS)"].verdict == "b faster"
    assert by_label["S3 vs RDS (Lambda)"].verdict == "no clear difference"
    assert by_label["S3 vs RDS (ECS)"].verdict == "b faster"
    for c in result:
        a, b = runs[c.a_label], runs[c.b_label]
        assert (c.n_a, c.n_b) == (len(a), len(b))
        assert c.median_a == pytest.approx(statistics.median(a))
        assert c.median_b == pytest.approx(statistics.median(b))
        assert c.diff == pytest.approx(c.median_a - c.median_b)
        assert c.ci_low <= c.diff <= c.ci_high
        assert c.p_value == pytest.approx(_scipy_mwu(a, b)[1], rel=1e-9)


def test_compare_runs_verdict_needs_both_ci_and_p() -> None:
    result = compare_runs(_runs())
    for c in result:
        if c.verdict == "no clear difference":
            assert c.ci_low <= 0.0 <= c.ci_high or c.p_value >= 0.05
        else:
            assert not c.ci_low <= 0.0 <= c.ci_high and c.p_value < 0.05


def test_compare_runs_skips_missing_and_tiny_configurations() -> None:
    runs = _runs()
    del runs["ecs-rds"]
    runs["lambda-rds"] = [12.0]  # fewer than 2 samples
    result = compare_runs(runs)
    assert [c.label for c in result] == ["Lambda vs ECS (S3)"]
    assert compare_runs({}) == []


def test_compare_runs_is_deterministic() -> None:
    assert compare_runs(_runs(), seed=3) == compare_runs(_runs(), seed=3)
    assert all(isinstance(c, Comparison) for c in compare_runs(_runs()))


# --- repeat_spread ---------------------------------------------------------------------------


def test_repeat_spread() -> None:
    values = [50.0, 52.0, 49.0, 55.0]
    spread = repeat_spread(values)
    assert spread["min"] == 49.0
    assert spread["max"] == 55.0
    assert spread["mean"] == pytest.approx(float(np.mean(values)))
    assert spread["stdev"] == pytest.approx(float(np.std(values, ddof=1)))
    assert spread["cv"] == pytest.approx(float(np.std(values, ddof=1) / np.mean(values)))


def test_repeat_spread_small_and_degenerate() -> None:
    assert repeat_spread([42.0]) == {"min": 42.0, "max": 42.0, "mean": 42.0, "stdev": None, "cv": None}
    assert repeat_spread([]) == dict.fromkeys(("min", "max", "mean", "stdev", "cv"))
    assert repeat_spread([0.0, 0.0])["cv"] is None
    with pytest.raises(ValueError):
        repeat_spread([1.0, float("nan")])
