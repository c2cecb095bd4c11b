"""moto crashes running an awsvpc task in a VPC without DNS hostnames.

``Task.__init__`` creates an ENI for an awsvpc task and reads ``eni.private_dns_name``, but
``NetworkInterface`` sets that attribute only when its VPC has ``enableDnsHostnames`` (a new VPC does
not): ``AttributeError`` → HTTP 500. On AWS such an ENI simply has no private DNS name. The fix gives
``NetworkInterface`` a class-level default of ``None``, so the attachment detail is empty and
EC2's own responses omit the field, as AWS does.
"""

from __future__ import annotations

from typing import Any

from perflab.local.compat import CompatPatch

NAME = "ecs_awsvpc_dns_hostnames"


def _eni_class() -> Any:
    from moto.ec2.models import elastic_network_interfaces

    return getattr(elastic_network_interfaces, "NetworkInterface", None)


def needed() -> bool:
    eni = _eni_class()
    return eni is not None and not hasattr(eni, "private_dns_name")


def apply() -> None:
    eni = _eni_class()
    if not hasattr(eni, "private_dns_name"):
        eni.private_dns_name = None


PATCH = CompatPatch(
    name=NAME,
    gap="moto's RunTask crashes on an awsvpc task in a VPC without DNS hostnames",
    touches=(
        "moto.ec2.models.elastic_network_interfaces.NetworkInterface.private_dns_name",
        "moto.ecs.models.Task.__init__ (reads it)",
    ),
    needed=needed,
    apply=apply,
)
