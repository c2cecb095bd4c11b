"""moto's ECS backend is not thread-safe: serialise access to it.

moto's server is threaded, so concurrent ``RunTask`` and ``DescribeTasks`` requests (a Step
Functions Distributed Map fans out 100 of them) run backend methods at the same time. ``run_task``
inserts into ``backend.tasks`` while ``describe_tasks`` iterates it ("dictionary changed size during
iteration" → HTTP 500), and ``run_task`` creates an ENI per awsvpc task in the shared EC2 backend.

The fix wraps every public method of ``EC2ContainerServiceBackend`` in one re-entrant lock (methods
call each other). The backend's calls are short dictionary work, so one lock costs nothing measurable;
response serialisation happens outside it.
"""

from __future__ import annotations

import functools
import inspect
import threading
from collections.abc import Callable
from typing import Any

from perflab.local.compat import CompatPatch

NAME = "ecs_backend_lock"
_MARKER = "__perflab_locked__"

#: Held around every public ECS backend method (all accounts and regions).
LOCK = threading.RLock()


def _backend_class() -> Any:
    from moto.ecs import models

    return getattr(models, "EC2ContainerServiceBackend", None)


def _public_methods(cls: Any) -> dict[str, Callable[..., Any]]:
    """Plain functions defined on ``cls`` itself (not static/class methods, not private)."""
    return {
        name: value
        for name, value in vars(cls).items()
        if not name.startswith("_") and inspect.isfunction(value)
    }


def _locked(method: Callable[..., Any]) -> Callable[..., Any]:
    @functools.wraps(method)
    def wrapper(*args: Any, **kwargs: Any) -> Any:
        with LOCK:
            return method(*args, **kwargs)

    setattr(wrapper, _MARKER, True)
    return wrapper


def needed() -> bool:
    cls = _backend_class()
    if cls is None:
        return False
    methods = _public_methods(cls)
    required = ("run_task", "describe_tasks", "stop_task", "list_tasks")
    if not all(name in methods for name in required):
        return False
    # moto grew its own locking: nothing to do.
    return not any(isinstance(v, type(threading.RLock())) for v in vars(cls).values())


def apply() -> None:
    cls = _backend_class()
    for name, method in _public_methods(cls).items():
        if not getattr(method, _MARKER, False):
            setattr(cls, name, _locked(method))


PATCH = CompatPatch(
    name=NAME,
    gap="moto's ECS backend is not thread-safe: concurrent RunTask/DescribeTasks answer HTTP 500",
    touches=("moto.ecs.models.EC2ContainerServiceBackend (every public method)",),
    needed=needed,
    apply=apply,
)
