"""Pure statistics from raw samples. No I/O, no numpy at import (it is a cold-start cost in Lambda).

Percentiles use numpy's default method (``method="linear"``, Hyndman & Fan type 7): for ``n`` sorted
samples the ``q``-th percentile sits at rank ``h = (n - 1) * q / 100`` and interpolates linearly between
the neighbours. The unit tests check this against ``numpy.percentile`` on random samples. Statistics are
always computed from raw samples, never by combining other percentiles.
"""

from __future__ import annotations

import math
from collections.abc import Iterable, Sequence

LATENCY_KEYS = ("mean", "median", "p90", "p95", "p99", "min", "max")
MB = 1_000_000  # throughput is reported in MB/s with MB = 10^6 bytes (not MiB)


def _clean(samples: Iterable[float]) -> list[float]:
    values = [float(s) for s in samples]
    if any(math.isnan(v) for v in values):
        raise ValueError("samples contain NaN")
    return values


def _percentile_sorted(ordered: Sequence[float], q: float) -> float:
    rank = (len(ordered) - 1) * (q / 100.0)  # numpy: q / 100 first, then (n - 1) * q
    lower = math.floor(rank)
    upper = min(lower + 1, len(ordered) - 1)
    fraction = rank - lower
    below, above = ordered[lower], ordered[upper]
    # numpy's _lerp: the formula that is exact at both ends.
    if fraction >= 0.5:
        return above - (above - below) * (1.0 - fraction)
    return below + (above - below) * fraction


def percentile(samples: Iterable[float], q: float) -> float:
    """The ``q``-th percentile (0..100) of ``samples`` like ``numpy.percentile(samples, q)``.

    Raises ``ValueError`` for no samples, a NaN sample, or ``q`` outside 0..100.
    """
    if not 0.0 <= q <= 100.0 or math.isnan(q):
        raise ValueError(f"q must be within 0..100 (got {q})")
    ordered = sorted(_clean(samples))
    if not ordered:
        raise ValueError("percentile of no samples")
    return _percentile_sorted(ordered, q)


def mean(samples: Iterable[float]) -> float | None:
    """Arithmetic mean (``math.fsum``), ``None`` for no samples."""
    values = _clean(samples)
    return math.fsum(values) / len(values) if values else None


def latency_stats(samples: Iterable[float]) -> dict[str, float | None]:
    """``{mean, median, p90, p95, p99, min, max}`` of the samples; every value ``None`` when empty."""
    ordered = sorted(_clean(samples))
    if not ordered:
        return dict.fromkeys(LATENCY_KEYS)
    return {
        "mean": math.fsum(ordered) / len(ordered),
        "median": _percentile_sorted(ordered, 50.0),
        "p90": _percentile_sorted(ordered, 90.0),
        "p95": _percentile_sorted(ordered, 95.0),
        "p99": _percentile_sorted(ordered, 99.0),
        "min": ordered[0],
        "max": ordered[-1],
    }


def throughput_mb_s(bytes_total: int, first_start: float | None, last_end: float | None) -> float | None:
    """Aggregate throughput in MB/s (MB = 10^6 bytes): ``bytes_total / (last_end - first_start)``.

    Times are epoch seconds. ``None`` when nothing was transferred or the window is empty or unknown.
    """
    if bytes_total <= 0 or first_start is None or last_end is None:
        return None
    window = last_end - first_start
    if not window > 0:
        return None
    return bytes_total / MB / window


def mean_cold_start_penalty_ms(
    cold_latencies: Iterable[float], warm_latencies: Iterable[float]
) -> float | None:
    """Mean cold latency minus mean warm latency (ms); ``None`` unless both groups have samples.

    The caller chooses what a cold latency includes (perflab passes ``init_ms + latency_ms``: what a
    caller of a cold environment waits for beyond a warm one).
    """
    cold, warm = mean(cold_latencies), mean(warm_latencies)
    if cold is None or warm is None:
        return None
    return cold - warm
