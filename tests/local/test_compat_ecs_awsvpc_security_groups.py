"""ecs_awsvpc_security_groups: an awsvpc configuration without securityGroups is accepted."""

from __future__ import annotations

from perflab.local.compat import ecs_awsvpc_security_groups, moto_is_patched_version
from tests.conftest import ClientFactory
from tests.local.ecs_helpers import make_ecs_env, register, run, wait_task


def test_gap_is_present_in_pinned_moto() -> None:
    assert ecs_awsvpc_security_groups.PATCH.needed() or not moto_is_patched_version()


def test_network_configuration_without_security_groups(aws: ClientFactory) -> None:
    env, ecs = make_ecs_env(aws), aws("ecs")
    network = {"awsvpcConfiguration": {"subnets": [env.subnet]}}  # securityGroups is optional
    task = run(ecs, env, register(ecs, ["python", "-c", "pass"]), networkConfiguration=network)
    assert wait_task(ecs, env, task["taskArn"])["containers"][0]["exitCode"] == 0
