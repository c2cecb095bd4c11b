"""Pairwise comparisons of configurations: difference of medians, bootstrap CI, Mann-Whitney U.

This module runs in the report, never in Lambda, so it uses numpy (``perflab.stats`` stays numpy-free).
Everything is computed from raw latency samples (STYLE.md convention 7).

* ``median_difference_ci``: ``median(a) - median(b)`` with a percentile bootstrap confidence interval.
  Each group is resampled independently with replacement; the medians use numpy's default (linear)
  method, the same definition as ``perflab.stats``. Seeded ``Generator(PCG64(seed))``: same inputs and
  seed, same interval.
* ``mann_whitney_u``: the two-sided Mann-Whitney U test by the **normal approximation only**, with ties
  given their average rank, the tie-corrected variance and a continuity correction of 0.5 — the same
  as ``scipy.stats.mannwhitneyu(a, b, alternative="two-sided", method="asymptotic",
  use_continuity=True)`` (checked in the unit tests). The exact distribution is not implemented: for very
  small groups (a handful of samples each) the approximate p-value is rough; benchmark groups are
  larger. If every sample is tied the test has no information and the p-value is 1.
* ``compare_runs``: the four comparisons of the 2x2 design — Lambda vs ECS at each storage, S3 vs RDS at
  each compute.
* ``repeat_spread``: the spread of one figure across ``--repeat`` runs.
"""

from __future__ import annotations

import math
import statistics
from collections.abc import Iterable, Mapping, Sequence
from dataclasses import dataclass
from typing import Literal

import numpy as np
from numpy.typing import NDArray

Verdict = Literal["a faster", "b faster", "no clear difference"]

#: (label, a, b): Lambda vs ECS at each storage, then S3 vs RDS at each compute.
PAIRS: tuple[tuple[str, str, str], ...] = (
    ("Lambda vs ECS (S3)", "lambda-s3", "ecs-s3"),
    ("Lambda vs ECS (RDS)", "lambda-rds", "ecs-rds"),
    ("S3 vs RDS (Lambda)", "lambda-s3", "lambda-rds"),
    ("S3 vs RDS (ECS)", "ecs-s3", "ecs-rds"),
)

#: Upper bound on resampled values held in memory at once (per group), so large groups stay bounded.
_CHUNK_ELEMENTS = 2_000_000


def _as_array(samples: Iterable[float], name: str) -> NDArray[np.float64]:
    values = np.asarray(list(samples), dtype=np.float64)
    if values.ndim != 1 or values.size == 0:
        raise ValueError(f"{name}: need at least one sample")
    if not np.all(np.isfinite(values)):
        raise ValueError(f"{name}: samples must be finite (no NaN or infinity)")
    return values


def _bootstrap_medians(
    values: NDArray[np.float64], resamples: int, rng: np.random.Generator
) -> NDArray[np.float64]:
    n = values.size
    chunk = max(1, _CHUNK_ELEMENTS // n)
    out = np.empty(resamples, dtype=np.float64)
    for start in range(0, resamples, chunk):
        stop = min(start + chunk, resamples)
        idx = rng.integers(0, n, size=(stop - start, n))
        out[start:stop] = np.median(values[idx], axis=1)
    return out


def median_difference_ci(
    a: Iterable[float],
    b: Iterable[float],
    *,
    confidence: float = 0.95,
    resamples: int = 10_000,
    seed: int = 0,
) -> tuple[float, float, float]:
    """``(median(a) - median(b), low, high)`` with a percentile bootstrap interval at ``confidence``.

    Raises ``ValueError`` for an empty group, a non-finite sample, ``confidence`` outside (0, 1) or
    ``resamples < 1``.
    """
    if not 0.0 < confidence < 1.0:
        raise ValueError(f"confidence must be within (0, 1) (got {confidence})")
    if resamples < 1:
        raise ValueError(f"resamples must be at least 1 (got {resamples})")
    xa, xb = _as_array(a, "a"), _as_array(b, "b")
    diff = float(np.median(xa) - np.median(xb))
    rng = np.random.Generator(np.random.PCG64(seed))
    boot = _bootstrap_medians(xa, resamples, rng) - _bootstrap_medians(xb, resamples, rng)
    tail = (1.0 - confidence) / 2.0 * 100.0
    low, high = np.percentile(boot, [tail, 100.0 - tail])
    return diff, float(low), float(high)


def mann_whitney_u(a: Iterable[float], b: Iterable[float]) -> tuple[float, float]:
    """``(U, p)``: U of ``a`` (``R_a - n_a (n_a + 1) / 2``) and the two-sided asymptotic p-value.

    Ties get their average rank; the variance is tie-corrected; continuity correction 0.5. No exact
    distribution (see the module docstring). Raises ``ValueError`` for an empty group or a non-finite
    sample.
    """
    xa, xb = _as_array(a, "a"), _as_array(b, "b")
    n_a, n_b = xa.size, xb.size
    n = n_a + n_b
    pooled = np.concatenate([xa, xb])
    _, inverse, counts = np.unique(pooled, return_inverse=True, return_counts=True)
    # Average rank of each distinct value: last rank of its block minus half the block's extra width.
    ends = np.cumsum(counts).astype(np.float64)
    avg_rank = ends - (counts - 1) / 2.0
    ranks = avg_rank[inverse]
    u_a = float(ranks[:n_a].sum()) - n_a * (n_a + 1) / 2.0
    u_b = n_a * n_b - u_a

    tie_term = float(np.sum(counts.astype(np.float64) ** 3 - counts))
    variance = n_a * n_b / 12.0 * ((n + 1) - (tie_term / (n * (n - 1)) if n > 1 else 0.0))
    if variance <= 0.0:  # every sample tied: no evidence either way
        return u_a, 1.0
    mu = n_a * n_b / 2.0
    z = (max(u_a, u_b) - mu - 0.5) / math.sqrt(variance)
    p = math.erfc(z / math.sqrt(2.0))  # 2 * standard normal survival function at z
    return u_a, min(1.0, max(0.0, p))


@dataclass(frozen=True, slots=True)
class Comparison:
    """One pairwise comparison; ``diff``, ``ci_low`` and ``ci_high`` are ``median(a) - median(b)``.

    A negative difference means ``a`` has the lower latency. ``verdict`` names a winner only when the
    confidence interval excludes 0 and ``p_value < alpha``.
    """

    label: str
    a_label: str
    b_label: str
    n_a: int
    n_b: int
    median_a: float
    median_b: float
    diff: float
    ci_low: float
    ci_high: float
    p_value: float
    verdict: Verdict


def _verdict(ci_low: float, ci_high: float, p_value: float, alpha: float) -> Verdict:
    if p_value < alpha and ci_high < 0.0:
        return "a faster"
    if p_value < alpha and ci_low > 0.0:
        return "b faster"
    return "no clear difference"


def compare(
    label: str,
    a_label: str,
    a: Sequence[float],
    b_label: str,
    b: Sequence[float],
    *,
    confidence: float = 0.95,
    alpha: float = 0.05,
    resamples: int = 10_000,
    seed: int = 0,
) -> Comparison:
    """Compare two latency samples (lower is faster)."""
    diff, low, high = median_difference_ci(a, b, confidence=confidence, resamples=resamples, seed=seed)
    _, p = mann_whitney_u(a, b)
    return Comparison(
        label=label,
        a_label=a_label,
        b_label=b_label,
        n_a=len(a),
        n_b=len(b),
        median_a=float(np.median(np.asarray(a, dtype=np.float64))),
        median_b=float(np.median(np.asarray(b, dtype=np.float64))),
        diff=diff,
        ci_low=low,
        ci_high=high,
        p_value=p,
        verdict=_verdict(low, high, p, alpha),
    )


def compare_runs(
    runs: Mapping[str, Sequence[float]],
    *,
    confidence: float = 0.95,
    alpha: float = 0.05,
    resamples: int = 10_000,
    seed: int = 0,
) -> list[Comparison]:
    """The pairwise comparisons of ``PAIRS`` for latency samples keyed ``"lambda-s3"``, ``"ecs-rds"``….

    A pair is skipped when either configuration is missing or has fewer than 2 samples.
    """
    out: list[Comparison] = []
    for label, a_key, b_key in PAIRS:
        a, b = runs.get(a_key), runs.get(b_key)
        if a is None or b is None or len(a) < 2 or len(b) < 2:
            continue
        out.append(
            compare(
                label,
                a_key,
                a,
                b_key,
                b,
                confidence=confidence,
                alpha=alpha,
                resamples=resamples,
                seed=seed,
            )
        )
    return out


def repeat_spread(values_per_repeat: Sequence[float]) -> dict[str, float | None]:
    """``{min, max, mean, stdev, cv}`` of one figure across repeats (e.g. each repeat's median).

    ``stdev`` is the sample standard deviation (n - 1); ``cv = stdev / mean``. ``stdev`` and ``cv`` are
    ``None`` for fewer than 2 repeats, ``cv`` also when the mean is 0; everything is ``None`` for none.
    """
    values = [float(v) for v in values_per_repeat]
    if any(not math.isfinite(v) for v in values):
        raise ValueError("repeat values must be finite")
    if not values:
        return dict.fromkeys(("min", "max", "mean", "stdev", "cv"))
    avg = math.fsum(values) / len(values)
    stdev = statistics.stdev(values) if len(values) >= 2 else None
    cv = stdev / avg if stdev is not None and avg != 0.0 else None
    return {"min": min(values), "max": max(values), "mean": avg, "stdev": stdev, "cv": cv}
