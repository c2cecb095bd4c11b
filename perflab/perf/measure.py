"""Pure aggregation of raw samples into the figures ``perf.json`` reports. No I/O.

Throughput of a round is the bytes every client of that round moved over the round's window (first
start to last finish): the rate the machine sustained with ``concurrency`` transfers in flight. A
level's ``mb_s`` is the **median over rounds** of that figure (rounds are repeated measurements of the
same thing; the median resists one disturbed round). Latency percentiles are computed from every raw
sample of every round together (:func:`perflab.stats.percentile`), never from per-round percentiles.
MB = 10^6 bytes throughout.
"""

from __future__ import annotations

from collections.abc import Iterable, Sequence
from typing import Any, Protocol

from perflab.stats import MB, percentile


class TimedSample(Protocol):
    @property
    def round(self) -> int: ...

    @property
    def started_at(self) -> float: ...

    @property
    def finished_at(self) -> float: ...

    @property
    def latency_ms(self) -> float: ...

    @property
    def bytes(self) -> int: ...

    @property
    def ok(self) -> bool: ...


def median(values: Sequence[float]) -> float | None:
    return percentile(values, 50.0) if values else None


def round_throughputs(samples: Iterable[TimedSample]) -> list[float]:
    """MB/s of each round (in round order): its bytes over (last finish - first start)."""
    by_round: dict[int, list[TimedSample]] = {}
    for s in samples:
        by_round.setdefault(s.round, []).append(s)
    rates: list[float] = []
    for r in sorted(by_round):
        group = by_round[r]
        window = max(s.finished_at for s in group) - min(s.started_at for s in group)
        moved = sum(s.bytes for s in group)
        if window > 0 and moved > 0:
            rates.append(moved / MB / window)
    return rates


def summarize_level(
    samples: Sequence[TimedSample], concurrency: int, reference_mb_s: float | None
) -> dict[str, Any]:
    """One concurrency level: ``{concurrency, mb_s, ratio, p50_ms, p99_ms, rounds_mb_s, samples,
    failed}`` (``ratio`` = ``mb_s / reference_mb_s``, ``None`` without a reference)."""
    ok = [s for s in samples if s.ok]
    rates = round_throughputs(ok)
    mb_s = median(rates)
    latencies = [s.latency_ms for s in ok]
    return {
        "concurrency": concurrency,
        "mb_s": _round(mb_s, 1),
        "ratio": ratio(mb_s, reference_mb_s),
        "p50_ms": _round(percentile(latencies, 50.0) if latencies else None, 2),
        "p99_ms": _round(percentile(latencies, 99.0) if latencies else None, 2),
        "rounds_mb_s": [round(r, 1) for r in rates],
        "samples": len(ok),
        "failed": len(samples) - len(ok),
    }


def ratio(value: float | None, reference: float | None) -> float | None:
    """``value / reference`` to 3 decimals; ``None`` when either is missing or the reference is 0."""
    if value is None or reference is None or reference <= 0:
        return None
    return round(value / reference, 3)


def orchestration_overhead_s(wall_s: float | None, latencies_ms: Sequence[float]) -> float | None:
    """Execution wall time minus the slowest invocation's download: what orchestration cost."""
    if wall_s is None or not latencies_ms:
        return None
    return wall_s - max(latencies_ms) / 1000.0


def meets(value: float | None, target: float, *, at_most: bool = False) -> bool | None:
    """Whether ``value`` meets ``target`` (``>=``, or ``<=`` with ``at_most``); ``None`` when unknown."""
    if value is None:
        return None
    return value <= target if at_most else value >= target


def _round(value: float | None, digits: int) -> float | None:
    return None if value is None else round(value, digits)
