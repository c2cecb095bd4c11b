"""ecs_awsvpc_dns_hostnames: an awsvpc task runs in a VPC without DNS hostnames."""

from __future__ import annotations

from perflab.local.compat import ecs_awsvpc_dns_hostnames, moto_is_patched_version
from tests.conftest import ClientFactory
from tests.local.ecs_helpers import make_ecs_env, register, run, wait_task


def test_gap_is_present_in_pinned_moto() -> None:
    assert ecs_awsvpc_dns_hostnames.PATCH.needed() or not moto_is_patched_version()


def test_task_runs_in_a_vpc_without_dns_hostnames(aws: ClientFactory) -> None:
    env, ecs, ec2 = make_ecs_env(aws), aws("ecs"), aws("ec2")
    vpc = ec2.create_vpc(CidrBlock="10.77.0.0/16")["Vpc"]["VpcId"]
    assert (
        ec2.describe_vpc_attribute(VpcId=vpc, Attribute="enableDnsHostnames")["EnableDnsHostnames"]["Value"]
        is False
    )
    subnet = ec2.create_subnet(VpcId=vpc, CidrBlock="10.77.1.0/24")["Subnet"]["SubnetId"]
    arn = register(ecs, ["python", "-c", "pass"])
    task = run(ecs, env, arn, networkConfiguration=env.network(subnet))
    details = {d["name"]: d.get("value") for d in task["attachments"][0]["details"]}
    assert details["subnetId"] == subnet
    assert details.get("privateDnsName") is None
    assert wait_task(ecs, env, task["taskArn"])["containers"][0]["exitCode"] == 0
