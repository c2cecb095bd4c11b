"""moto crashes running a task whose container definition has no ``memory``.

On Fargate the task-level ``memory`` is required and container-level ``memory`` /
``memoryReservation`` are optional; moto accepts such a task definition, but ``run_task`` sums
container memory in ``_calculate_task_resource_requirements`` and fails with ``TypeError: int +=
NoneType`` (HTTP 500). The fix counts a container without either as 0 MiB in that sum (the sum only
feeds EC2 placement; Fargate tasks are sized by the task-level values).
"""

from __future__ import annotations

import functools
from typing import Any

from perflab.local.compat import CompatPatch
from perflab.local.compat.ecs_support import ecs_model

NAME = "ecs_fargate_container_memory"
_MARKER = "__perflab_container_memory__"
_MEMORY_KEYS = ("memory", "Memory", "memoryReservation", "MemoryReservation")


class _Definitions:
    """The one attribute ``_calculate_task_resource_requirements`` reads from a task definition."""

    def __init__(self, container_definitions: list[dict[str, Any]]) -> None:
        self.container_definitions = container_definitions


def needed() -> bool:
    cls = ecs_model("EC2ContainerServiceBackend")
    calculate = getattr(cls, "_calculate_task_resource_requirements", None)
    if calculate is None or getattr(calculate, _MARKER, False):
        return False
    try:
        calculate(_Definitions([{"name": "probe", "image": "probe"}]))
    except TypeError:
        return True
    return False


def apply() -> None:
    cls = ecs_model("EC2ContainerServiceBackend")
    original = cls._calculate_task_resource_requirements
    if getattr(original, _MARKER, False):
        return

    @functools.wraps(original)
    def calculate(task_definition: Any) -> dict[str, Any]:
        definitions = [
            cd if any(cd.get(key) is not None for key in _MEMORY_KEYS) else {**cd, "memory": 0}
            for cd in task_definition.container_definitions
        ]
        return dict(original(_Definitions(definitions)))

    setattr(calculate, _MARKER, True)
    cls._calculate_task_resource_requirements = staticmethod(calculate)


PATCH = CompatPatch(
    name=NAME,
    gap="moto's RunTask crashes on a container definition without memory (valid on Fargate)",
    touches=("moto.ecs.models.EC2ContainerServiceBackend._calculate_task_resource_requirements",),
    needed=needed,
    apply=apply,
)
