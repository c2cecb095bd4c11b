"""Loaded (as ``sitecustomize``) by a local cloud a test starts with this directory on PYTHONPATH.

It widens one window on purpose: after moto serialises an ECS task's ``containers`` in an answer, and
before it serialises the rest (``lastStatus`` among it), it waits :data:`DELAY` seconds whenever a
container had no ``exitCode`` yet. A task that exits during that wait is the case the ECS agent's
answer snapshots exist for: read from the live task, such an answer would show a container without
an exit code in a task whose ``lastStatus`` is STOPPED. Each wait appends a line to the file
``PERFLAB_SLOW_ECS_ANSWERS_LOG`` names, so the test can tell the widening happened. Nothing else
changes.
"""

from __future__ import annotations

import os
import time
from typing import Any

DELAY = 0.05

try:
    from moto.core import serialize as _serialize
except ImportError:  # a process without moto (none of the local cloud's): nothing to widen
    _serialize = None  # type: ignore[assignment]

if _serialize is not None:
    _original = _serialize.ResponseSerializer._serialize_structure_member

    def _serialize_structure_member(self: Any, serialized: Any, value: Any, shape: Any, key: str) -> None:
        _original(self, serialized, value, shape, key)
        running = key == "containers" and type(value).__name__ == "Task"
        if running and any(getattr(c, "exitCode", None) is None for c in value.containers):
            with open(os.environ["PERFLAB_SLOW_ECS_ANSWERS_LOG"], "a") as log:
                log.write(f"{value.id}\n")
            time.sleep(DELAY)

    _serialize.ResponseSerializer._serialize_structure_member = _serialize_structure_member
