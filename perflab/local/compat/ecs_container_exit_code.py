"""moto reports ``exitCode: 0`` for every container from the moment the task is created.

On AWS a container has no ``exitCode`` until it has stopped; then it carries the process's exit
code (and a ``reason`` when ECS stopped it). moto hard-codes ``exitCode = 0`` in ``Container`` and
has no way to record anything else, so a task that never ran, or is still running, looks like a
success to anything that reads ``containers[].exitCode``.

The fix makes a new container's ``exitCode`` (and ``reason``) absent; whoever runs the container (the
local ECS agent) sets ``exitCode``, ``reason`` and ``lastStatus`` on the ``Container`` object when the
process exits, and moto's serialiser reports them.
"""

from __future__ import annotations

import functools
from typing import Any

from perflab.local.compat import CompatPatch

NAME = "ecs_container_exit_code"
_MARKER = "__perflab_exit_code__"


def _container_class() -> Any:
    from moto.ecs import models

    return getattr(models, "Container", None)


def needed() -> bool:
    container = _container_class()
    if container is None:
        return False
    probe = container.__new__(container)
    try:
        container.__init__(probe, _ProbeTaskDefinition())
    except Exception:
        return False  # the constructor changed shape: do not guess
    return getattr(probe, "exitCode", None) == 0


class _ProbeTaskDefinition:
    arn = "arn:aws:ecs:us-east-1:123456789012:task-definition/probe:1"
    container_definitions = [{"name": "probe", "image": "probe"}]


def apply() -> None:
    container = _container_class()
    original = container.__init__
    if getattr(original, _MARKER, False):
        return

    @functools.wraps(original)
    def __init__(self: Any, *args: Any, **kwargs: Any) -> None:
        original(self, *args, **kwargs)
        self.exitCode = None
        self.reason = None

    setattr(__init__, _MARKER, True)
    container.__init__ = __init__


PATCH = CompatPatch(
    name=NAME,
    gap="moto reports exitCode 0 for every ECS container from creation and cannot record another",
    touches=("moto.ecs.models.Container.__init__", "moto.ecs.models.Container.exitCode"),
    needed=needed,
    apply=apply,
)
