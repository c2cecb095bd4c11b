"""Step Functions ``.waitForTaskToken``: an outcome or heartbeat that arrives early is kept.

A task token is valid from the moment the task starts, so a worker may call ``SendTaskSuccess`` (or
``SendTaskHeartbeat``) before the interpreter has finished submitting the task. moto's
``CallbackEndpoint`` only forwards an outcome to a heartbeat watcher that already exists; a Task with
``HeartbeatSeconds`` sets its watcher up after the integration call returns, so an outcome that
arrived in between is never seen and the task hangs until the heartbeat times out (21 of 100 ECS
tasks in a prototype). A heartbeat sent before the watcher exists is answered with ``InvalidToken``.

This patch makes both stick whatever the order: under one lock, a new heartbeat watcher starts out
notified when an outcome or heartbeat is already there, and an early heartbeat is recorded (and the
token accepted) instead of rejected.
"""

from __future__ import annotations

import threading
from collections.abc import Callable
from typing import Any

from perflab.local.compat import CompatPatch
from perflab.local.compat.sfn_support import import_attr, is_marked, mark, source_of

NAME = "sfn_callback_early_outcome"
_MODULE = "moto.stepfunctions.parser.asl.eval.callback.callback"
_ENDPOINT = f"{_MODULE}.CallbackEndpoint"
_HEARTBEAT = f"{_MODULE}.HeartbeatEndpoint"
_EARLY_HEARTBEAT = "_perflab_early_heartbeat"

#: One lock for every endpoint: the critical sections are a few attribute reads and writes.
_LOCK = threading.Lock()


def _setup_heartbeat_endpoint(self: Any, heartbeat_seconds: int) -> Any:
    heartbeat_endpoint_cls = import_attr(_HEARTBEAT)
    assert heartbeat_endpoint_cls is not None
    endpoint = heartbeat_endpoint_cls(heartbeat_seconds=heartbeat_seconds)
    with _LOCK:
        self._heartbeat_endpoint = endpoint
        early = self._outcome is not None or getattr(self, _EARLY_HEARTBEAT, False)
        setattr(self, _EARLY_HEARTBEAT, False)
    if early:
        endpoint.notify()
    return endpoint


def _notify(self: Any, outcome: Any) -> None:
    with _LOCK:
        self._outcome = outcome
        heartbeat_endpoint = self._heartbeat_endpoint
    self._notify_event.set()
    if heartbeat_endpoint is not None:
        heartbeat_endpoint.notify()


def _notify_heartbeat(self: Any) -> bool:
    with _LOCK:
        heartbeat_endpoint = self._heartbeat_endpoint
        if heartbeat_endpoint is None:
            setattr(self, _EARLY_HEARTBEAT, True)
    if heartbeat_endpoint is not None:
        heartbeat_endpoint.notify()
    # The token is valid either way (AWS accepts heartbeats for any running task token).
    return True


_REPLACEMENTS: dict[str, Callable[..., Any]] = {
    "setup_heartbeat_endpoint": _setup_heartbeat_endpoint,
    "notify": _notify,
    "notify_heartbeat": _notify_heartbeat,
}


def needed() -> bool:
    cls = import_attr(_ENDPOINT)
    if cls is None or import_attr(_HEARTBEAT) is None:
        return False
    methods = [cls.__dict__.get(name) for name in _REPLACEMENTS]
    if any(method is None or is_marked(method) for method in methods):
        return False
    # The gap: setting up the watcher ignores an outcome that is already there.
    setup_source = source_of(cls.__dict__["setup_heartbeat_endpoint"]) or ""
    return "_outcome" not in setup_source


def apply() -> None:
    cls = import_attr(_ENDPOINT)
    if cls is None:
        return
    for name, fn in _REPLACEMENTS.items():
        if not is_marked(cls.__dict__.get(name)):
            setattr(cls, name, mark(fn, NAME))


PATCH = CompatPatch(
    name=NAME,
    gap=(
        ".waitForTaskToken with HeartbeatSeconds: a SendTaskSuccess/Failure that arrives before the "
        "heartbeat watcher is set up is lost (the task hangs); an early SendTaskHeartbeat is rejected"
    ),
    touches=(
        f"{_ENDPOINT}.setup_heartbeat_endpoint",
        f"{_ENDPOINT}.notify",
        f"{_ENDPOINT}.notify_heartbeat",
        f"{_ENDPOINT}._outcome",
        f"{_ENDPOINT}._notify_event",
        f"{_ENDPOINT}._heartbeat_endpoint",
        f"{_HEARTBEAT}.__init__",
        f"{_HEARTBEAT}.notify",
    ),
    needed=needed,
    apply=apply,
)
