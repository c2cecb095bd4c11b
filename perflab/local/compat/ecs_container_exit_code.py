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

from typing import Any

from perflab.local.compat import CompatPatch
from perflab.local.compat.ecs_support import ecs_model, wrap_init

NAME = "ecs_container_exit_code"


def needed() -> bool:
    container = ecs_model("Container")
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


def _not_exited(container: Any) -> None:
    container.exitCode = None
    container.reason = None


def apply() -> None:
    wrap_init(ecs_model("Container"), NAME, after=_not_exited)


PATCH = CompatPatch(
    name=NAME,
    gap="moto reports exitCode 0 for every ECS container from creation and cannot record another",
    touches=("moto.ecs.models.Container.__init__", "moto.ecs.models.Container.exitCode"),
    needed=needed,
    apply=apply,
)
