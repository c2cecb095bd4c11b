"""moto crashes running an awsvpc task whose network configuration names no security groups.

``awsvpcConfiguration.securityGroups`` is optional on AWS (the VPC's default group applies), but
``Task.__init__`` reads ``net_conf["securityGroups"]``: ``KeyError`` → HTTP 500. The fix fills in an
empty list before moto reads it (moto's ENI then has no groups; nothing local enforces them).
"""

from __future__ import annotations

import functools
import inspect
from typing import Any

from perflab.local.compat import CompatPatch

NAME = "ecs_awsvpc_security_groups"
_MARKER = "__perflab_default_security_groups__"


def _task_class() -> Any:
    from moto.ecs import models

    return getattr(models, "Task", None)


def needed() -> bool:
    task = _task_class()
    if task is None:
        return False
    init = inspect.unwrap(task.__init__)
    return 'net_conf["securityGroups"]' in inspect.getsource(init)


def _with_default_groups(config: Any) -> Any:
    if not isinstance(config, dict):
        return config
    awsvpc = config.get("awsvpcConfiguration")
    if not isinstance(awsvpc, dict) or "securityGroups" in awsvpc:
        return config
    return {**config, "awsvpcConfiguration": {**awsvpc, "securityGroups": []}}


def apply() -> None:
    task = _task_class()
    original = task.__init__
    if getattr(original, _MARKER, False):
        return

    @functools.wraps(original)
    def __init__(self: Any, *args: Any, **kwargs: Any) -> None:
        if "networking_configuration" in kwargs:
            kwargs["networking_configuration"] = _with_default_groups(kwargs["networking_configuration"])
        original(self, *args, **kwargs)

    setattr(__init__, _MARKER, True)
    task.__init__ = __init__


PATCH = CompatPatch(
    name=NAME,
    gap="moto's RunTask crashes on an awsvpc network configuration without securityGroups",
    touches=("moto.ecs.models.Task.__init__",),
    needed=needed,
    apply=apply,
)
