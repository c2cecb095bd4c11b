"""Handler logs into moto's CloudWatch Logs backend, in-process (no HTTP round trip per line)."""

from __future__ import annotations

import datetime
import threading
import time
import uuid
from collections.abc import Iterable
from typing import Any


def log_stream_name(version: str) -> str:
    """``YYYY/MM/DD/[$LATEST]<32 hex>``, as Lambda names an environment's stream."""
    day = datetime.datetime.now(datetime.UTC).strftime("%Y/%m/%d")
    return f"{day}/[{version}]{uuid.uuid4().hex}"


def now_ms() -> int:
    return int(time.time() * 1000)


class LogWriter:
    """Writes one function's environments' streams in one account and region."""

    _group_lock = threading.Lock()

    def __init__(self, account_id: str, region: str, group: str) -> None:
        self.account_id = account_id
        self.region = region
        self.group = group

    def _backend(self) -> Any:
        from moto.logs.models import logs_backends

        return logs_backends[self.account_id][self.region]

    def create_stream(self, stream: str) -> None:
        backend = self._backend()
        with self._group_lock:
            if self.group not in backend.groups:
                backend.create_log_group(self.group, {})
        backend.ensure_log_stream(self.group, stream)

    def put(self, stream: str, events: Iterable[tuple[int, str]]) -> None:
        batch = [{"timestamp": ts, "message": message} for ts, message in events]
        if not batch:
            return
        backend = self._backend()
        try:
            backend.put_log_events(self.group, stream, batch)
        except Exception:
            # The group or stream was deleted by a user: recreate it, as Lambda would.
            self.create_stream(stream)
            backend.put_log_events(self.group, stream, batch)
