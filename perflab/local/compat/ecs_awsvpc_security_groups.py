"""moto crashes running an awsvpc task whose network configuration names no security groups.

``awsvpcConfiguration.securityGroups`` is optional on AWS (the VPC's default group applies), but
``Task.__init__`` reads ``net_conf["securityGroups"]``: ``KeyError`` → HTTP 500. The fix fills in an
empty list before moto reads it (moto's ENI then has no groups; nothing local enforces them).
"""

from __future__ import annotations

import inspect
from typing import Any

from perflab.local.compat import CompatPatch
from perflab.local.compat.ecs_support import ecs_model, wrap_init

NAME = "ecs_awsvpc_security_groups"


def needed() -> bool:
    task = ecs_model("Task")
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


def _default_groups(kwargs: dict[str, Any]) -> None:
    if "networking_configuration" in kwargs:
        kwargs["networking_configuration"] = _with_default_groups(kwargs["networking_configuration"])


def apply() -> None:
    wrap_init(ecs_model("Task"), NAME, before=_default_groups)


PATCH = CompatPatch(
    name=NAME,
    gap="moto's RunTask crashes on an awsvpc network configuration without securityGroups",
    touches=("moto.ecs.models.Task.__init__",),
    needed=needed,
    apply=apply,
)
