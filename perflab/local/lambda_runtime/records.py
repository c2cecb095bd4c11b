"""Per-invocation facts, as AWS reports them in the REPORT line, kept queryable in-process."""

from __future__ import annotations

import math
import threading
from collections import deque
from dataclasses import dataclass


@dataclass(frozen=True)
class InvocationRecord:
    request_id: str
    function_name: str
    version: str
    environment_id: str
    pid: int | None
    log_stream: str
    cold: bool
    #: Time from process start until the environment first asked for work (cold starts only).
    init_ms: float | None
    duration_ms: float
    memory_size_mb: int
    max_memory_used_mb: int
    #: UTC epoch seconds when the invocation was handed to the environment (or requested, if never).
    started_at: float
    #: ``None`` on success, else the AWS error type (``Sandbox.Timedout``, ``ValueError``, ...).
    error_type: str | None = None
    #: ``timeout`` / ``error`` as AWS adds ``Status:`` to REPORT lines, else ``None``.
    status: str | None = None

    @property
    def billed_ms(self) -> int:
        """AWS bills duration rounded up to the millisecond."""
        return max(1, math.ceil(self.duration_ms))

    def report_line(self) -> str:
        parts = [
            f"REPORT RequestId: {self.request_id}",
            f"Duration: {self.duration_ms:.2f} ms",
            f"Billed Duration: {self.billed_ms} ms",
            f"Memory Size: {self.memory_size_mb} MB",
            f"Max Memory Used: {self.max_memory_used_mb} MB",
        ]
        if self.init_ms is not None:
            parts.append(f"Init Duration: {self.init_ms:.2f} ms")
        if self.status is not None:
            parts.append(f"Status: {self.status}")
            if self.error_type is not None and self.status == "error":
                parts.append(f"Error Type: {self.error_type}")
        return "\t".join(parts) + "\t"


class RecordLog:
    """The most recent ``maxlen`` records, thread-safe."""

    def __init__(self, maxlen: int = 100_000) -> None:
        self._records: deque[InvocationRecord] = deque(maxlen=maxlen)
        self._lock = threading.Lock()

    def add(self, record: InvocationRecord) -> None:
        with self._lock:
            self._records.append(record)

    def list(self, function_name: str | None = None) -> list[InvocationRecord]:
        with self._lock:
            records = list(self._records)
        if function_name is None:
            return records
        return [r for r in records if r.function_name == function_name]
