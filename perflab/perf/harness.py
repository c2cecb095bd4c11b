"""Concurrent rounds of one operation in forked worker processes, started together, measured raw.

Both the loopback reference's socket client and the data-path bench use this: ``concurrency`` clients
spread over worker processes (``clients_per_process`` threads each), every client set up first
(connections opened, one untimed warm-up), then ``rounds`` rounds, each released by one
:class:`multiprocessing.Barrier` for every client at once and ended when the slowest finishes. Every
timed operation yields one :class:`Sample`; the statistics are computed from those raw samples by
:mod:`perflab.perf.measure`.

Workers are forked from the calling process, so they start with its imports (boto3, psycopg...) already
loaded, as Lambda environments forked from the local runtime's preloaded fork server do; nothing may
be connected before the fork: each client opens its own connections in ``setup``. A worker also
reports its peak resident set (``VmHWM``) above its resident set before its clients were built (see
:func:`rss_bytes`), which is the "one download's peak RSS above its interpreter" figure, and the CPU
time its rounds took (:class:`WorkerStats`): CPU per operation is a figure that other load on the
machine barely moves, unlike MB/s.
"""

from __future__ import annotations

import contextlib
import multiprocessing
import threading
import time
import traceback
from collections.abc import Callable
from dataclasses import dataclass, field
from multiprocessing.connection import Connection
from pathlib import Path
from typing import Any, Protocol

#: How long a round may take before the bench gives up on it (a hung worker must not hang the bench).
ROUND_TIMEOUT_S = 600.0


@dataclass(frozen=True)
class Sample:
    """One timed operation: epoch start/end, its duration, bytes moved, and whether it was right."""

    round: int
    started_at: float
    finished_at: float
    latency_ms: float
    bytes: int
    ok: bool
    ttfb_ms: float | None = None
    error: str | None = None


@dataclass
class WorkerStats:
    """A worker process's resident set before its clients were built and its peak afterwards
    (bytes), and the CPU time it spent in the timed rounds (all its threads; the clients' set-up and
    warm-up are not included)."""

    baseline_rss_bytes: int
    peak_rss_bytes: int
    rounds_cpu_s: float = 0.0

    @property
    def above_baseline_bytes(self) -> int:
        return max(0, self.peak_rss_bytes - self.baseline_rss_bytes)


@dataclass
class RoundsResult:
    samples: list[Sample] = field(default_factory=list)
    workers: list[WorkerStats] = field(default_factory=list)
    errors: list[str] = field(default_factory=list)


class Operation(Protocol):
    """One client: ``__call__(round)`` performs the timed operation once and returns its sample."""

    def __call__(self, round_index: int) -> Sample: ...


#: Builds one client inside a worker process (opens connections; may do an untimed warm-up).
ClientFactory = Callable[[int], Operation]


def _status_kb(name: str) -> int:
    for line in Path("/proc/self/status").read_text().splitlines():
        if line.startswith(name + ":"):
            return int(line.split()[1])
    return 0


def rss_bytes() -> tuple[int, int]:
    """(current resident set, peak resident set ``VmHWM``) of this process in bytes."""
    return _status_kb("VmRSS") * 1024, _status_kb("VmHWM") * 1024


def reset_peak_rss() -> None:
    """Reset ``VmHWM`` to the current resident set (Linux ``clear_refs`` 5); a no-op where refused."""
    with contextlib.suppress(OSError), open("/proc/self/clear_refs", "w") as f:
        f.write("5")


def _worker(
    factory: ClientFactory,
    first_client: int,
    clients: int,
    rounds: int,
    barrier: threading.Barrier,
    out: Connection,
) -> None:
    """One worker process: build its clients, run the rounds, send samples and memory back."""
    samples: list[Sample] = []
    errors: list[str] = []
    reset_peak_rss()
    baseline, _ = rss_bytes()
    built: list[Operation | None] = []
    for i in range(clients):
        try:
            built.append(factory(first_client + i))
        except Exception:
            errors.append(traceback.format_exc(limit=5))
            built.append(None)

    def run(op: Operation | None) -> None:
        for r in range(rounds):
            try:
                barrier.wait(ROUND_TIMEOUT_S)
            except threading.BrokenBarrierError:
                return
            if op is None:
                continue
            try:
                samples.append(op(r))
            except Exception:
                errors.append(traceback.format_exc(limit=5))

    threads = [threading.Thread(target=run, args=(op,), daemon=True) for op in built]
    cpu_start = time.process_time()
    for t in threads:
        t.start()
    for t in threads:
        t.join()
    cpu_s = time.process_time() - cpu_start
    _, peak = rss_bytes()
    out.send((samples, WorkerStats(baseline, peak, cpu_s), errors))
    out.close()


def plan_processes(concurrency: int, clients_per_process: int) -> list[int]:
    """How many clients each worker process hosts: ``concurrency`` split into groups of at most
    ``clients_per_process`` (``[3, 3, 2]`` for 8 clients by 3)."""
    if concurrency < 1 or clients_per_process < 1:
        raise ValueError("concurrency and clients_per_process must be positive")
    full, rest = divmod(concurrency, clients_per_process)
    return [clients_per_process] * full + ([rest] if rest else [])


def run_rounds(
    factory: ClientFactory,
    concurrency: int,
    rounds: int,
    clients_per_process: int = 1,
    on_round: Callable[[int], None] | None = None,
    on_finished: Callable[[], object] | None = None,
) -> RoundsResult:
    """``rounds`` rounds of ``concurrency`` clients (see the module docstring). ``on_finished()`` is
    called once every worker has sent its results, before any is reaped (their CPU times are still
    their own then, not yet folded into this process's children's times)."""
    ctx = multiprocessing.get_context("fork")
    groups = plan_processes(concurrency, clients_per_process)
    barrier = ctx.Barrier(concurrency + 1)
    procs: list[tuple[Any, Connection]] = []
    first = 0
    for size in groups:
        receive, send = ctx.Pipe(duplex=False)
        proc = ctx.Process(target=_worker, args=(factory, first, size, rounds, barrier, send), daemon=True)
        proc.start()
        send.close()
        procs.append((proc, receive))
        first += size
    result = RoundsResult()
    try:
        for r in range(rounds):
            barrier.wait(ROUND_TIMEOUT_S)  # every client is set up (r = 0) or done with round r - 1
            if on_round is not None:
                on_round(r)
        for proc, receive in procs:
            if receive.poll(ROUND_TIMEOUT_S):
                samples, stats, errors = receive.recv()
                result.samples.extend(samples)
                result.workers.append(stats)
                result.errors.extend(errors)
            else:
                result.errors.append(f"worker {proc.pid} sent nothing within {ROUND_TIMEOUT_S:.0f} s")
        if on_finished is not None:
            on_finished()
    except threading.BrokenBarrierError:
        result.errors.append("a round timed out (barrier broken)")
    finally:
        barrier.abort()
        for proc, receive in procs:
            proc.join(timeout=30)
            if proc.is_alive():
                proc.kill()
                proc.join()
            receive.close()
    result.samples.sort(key=lambda s: (s.round, s.started_at))
    return result
