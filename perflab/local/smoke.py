"""Local-cloud smoke benchmark: a 100-way Distributed Map fan-out to a trivial Lambda and ECS task.

It measures the local cloud itself, not a workload: wall time, time from ``MapRunStarted`` until every
invocation was running, cold/warm counts and the stack's peak memory. Runs, in order: Lambda with no
environments (cold), Lambda again (environments exist: warm), ECS ``runTask.sync``, ECS
``runTask.waitForTaskToken``.
"""

from __future__ import annotations

import io
import json
import sys
import time
import uuid
import zipfile
from collections.abc import Iterable, Mapping, Sequence
from dataclasses import asdict, dataclass, field
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

from perflab.local import smoke_handler
from perflab.local.clients import LocalClients
from perflab.local.context import DEFAULT_ACCOUNT_ID

SMOKE_IMAGE = "perflab-smoke:local"
CONTAINER = "smoke"
KINDS = ("lambda", "ecs-sync", "ecs-token")


@dataclass(frozen=True)
class SmokeDeployment:
    table: str
    function_name: str
    cluster: str
    task_definition: str
    subnet: str
    state_machine_arn: str


@dataclass
class FanoutResult:
    label: str
    kind: str
    run_id: str
    execution_arn: str
    status: str
    requested: int
    recorded: int
    wall_s: float
    all_running_s: float | None
    cold: int
    warm: int
    error: str | None = None
    records: list[dict[str, Any]] = field(default_factory=list, repr=False)


def handler_zip() -> bytes:
    """The Lambda deployment package: the smoke handler alone (boto3 comes with the runtime)."""
    buf = io.BytesIO()
    with zipfile.ZipFile(buf, "w", zipfile.ZIP_DEFLATED) as zf:
        zf.write(smoke_handler.__file__, "smoke_handler.py")
    return buf.getvalue()


def fanout_definition(
    function_name: str, cluster: str, task_definition: str, subnet: str, max_concurrency: int = 100
) -> dict[str, Any]:
    """A Distributed Map over ``States.ArrayRange(0, last, 1)``; per item a Choice on ``kind``."""
    network = {"AwsvpcConfiguration": {"Subnets": [subnet], "AssignPublicIp": "DISABLED"}}

    def env(extra: list[dict[str, str]]) -> dict[str, Any]:
        return {
            "ContainerOverrides": [
                {
                    "Name": CONTAINER,
                    "Environment": [
                        {"Name": "INDEX", "Value.$": "States.Format('{}', $.index)"},
                        {"Name": "RUN_ID", "Value.$": "$.run_id"},
                        *extra,
                    ],
                }
            ]
        }

    run_task = {
        "Cluster": cluster,
        "TaskDefinition": task_definition,
        "LaunchType": "FARGATE",
        "NetworkConfiguration": network,
    }
    return {
        "Comment": "perflab local-cloud smoke fan-out",
        "StartAt": "Indexes",
        "States": {
            "Indexes": {
                "Type": "Pass",
                "Parameters": {
                    "run_id.$": "$.run_id",
                    "kind.$": "$.kind",
                    "indexes.$": "States.ArrayRange(0, $.last, 1)",
                },
                "Next": "Fanout",
            },
            "Fanout": {
                "Type": "Map",
                "ItemsPath": "$.indexes",
                "ItemSelector": {
                    "index.$": "$$.Map.Item.Value",
                    "run_id.$": "$.run_id",
                    "kind.$": "$.kind",
                },
                "MaxConcurrency": max_concurrency,
                "ItemProcessor": {
                    "ProcessorConfig": {"Mode": "DISTRIBUTED", "ExecutionType": "STANDARD"},
                    "StartAt": "Route",
                    "States": {
                        "Route": {
                            "Type": "Choice",
                            "Choices": [
                                {"Variable": "$.kind", "StringEquals": "lambda", "Next": "Invoke"},
                                {"Variable": "$.kind", "StringEquals": "ecs-sync", "Next": "RunTaskSync"},
                                {"Variable": "$.kind", "StringEquals": "ecs-token", "Next": "RunTaskToken"},
                            ],
                        },
                        "Invoke": {
                            "Type": "Task",
                            "Resource": "arn:aws:states:::lambda:invoke",
                            "Parameters": {"FunctionName": function_name, "Payload.$": "$"},
                            "ResultSelector": {"index.$": "$.Payload.index"},
                            "TimeoutSeconds": 120,
                            "End": True,
                        },
                        "RunTaskSync": {
                            "Type": "Task",
                            "Resource": "arn:aws:states:::ecs:runTask.sync",
                            "Parameters": {**run_task, "Overrides": env([])},
                            "ResultSelector": {"exit_code.$": "$.Containers[0].ExitCode"},
                            "TimeoutSeconds": 300,
                            "End": True,
                        },
                        "RunTaskToken": {
                            "Type": "Task",
                            "Resource": "arn:aws:states:::ecs:runTask.waitForTaskToken",
                            "Parameters": {
                                **run_task,
                                "Overrides": env([{"Name": "TASK_TOKEN", "Value.$": "$$.Task.Token"}]),
                            },
                            "TimeoutSeconds": 300,
                            "End": True,
                        },
                    },
                },
                "ResultSelector": {"count.$": "States.ArrayLength($)"},
                "End": True,
            },
        },
    }


def deploy(clients: LocalClients, max_concurrency: int = 100) -> SmokeDeployment:
    """Create the table, function, cluster, task definition and state machine (unique names)."""
    suffix = uuid.uuid4().hex[:8]
    table = f"perflab-smoke-{suffix}"
    clients("dynamodb").create_table(
        TableName=table,
        KeySchema=[
            {"AttributeName": "run_id", "KeyType": "HASH"},
            {"AttributeName": "index", "KeyType": "RANGE"},
        ],
        AttributeDefinitions=[
            {"AttributeName": "run_id", "AttributeType": "S"},
            {"AttributeName": "index", "AttributeType": "N"},
        ],
        BillingMode="PAY_PER_REQUEST",
    )
    role_arn = clients("iam").create_role(
        RoleName=f"perflab-smoke-{suffix}",
        AssumeRolePolicyDocument=json.dumps(
            {
                "Version": "2012-10-17",
                "Statement": [
                    {
                        "Effect": "Allow",
                        "Principal": {"Service": ["lambda.amazonaws.com", "states.amazonaws.com"]},
                        "Action": "sts:AssumeRole",
                    }
                ],
            }
        ),
    )["Role"]["Arn"]
    function_name = f"perflab-smoke-{suffix}"
    clients("lambda").create_function(
        FunctionName=function_name,
        Runtime="python3.11",
        Role=role_arn,
        Handler="smoke_handler.handler",
        Code={"ZipFile": handler_zip()},
        Timeout=60,
        MemorySize=256,
        Environment={"Variables": {"SMOKE_TABLE": table}},
    )
    ec2 = clients("ec2")
    vpc = ec2.create_vpc(CidrBlock="10.42.0.0/16")["Vpc"]["VpcId"]
    subnet = ec2.create_subnet(VpcId=vpc, CidrBlock="10.42.1.0/24")["Subnet"]["SubnetId"]
    cluster = clients("ecs").create_cluster(clusterName=f"perflab-smoke-{suffix}")["cluster"]["clusterArn"]
    task_definition = clients("ecs").register_task_definition(
        family=f"perflab-smoke-{suffix}",
        requiresCompatibilities=["FARGATE"],
        networkMode="awsvpc",
        cpu="256",
        memory="512",
        containerDefinitions=[
            {
                "name": CONTAINER,
                "image": SMOKE_IMAGE,
                "essential": True,
                "memory": 512,
                "command": ["python", "-m", "perflab.local.smoke_handler"],
                "environment": [{"name": "SMOKE_TABLE", "value": table}],
            }
        ],
    )["taskDefinition"]["taskDefinitionArn"]
    definition = fanout_definition(function_name, cluster, task_definition, subnet, max_concurrency)
    state_machine_arn = clients("stepfunctions").create_state_machine(
        name=f"perflab-smoke-{suffix}",
        definition=json.dumps(definition),
        roleArn=f"arn:aws:iam::{DEFAULT_ACCOUNT_ID}:role/perflab-smoke-{suffix}",
    )["stateMachineArn"]
    return SmokeDeployment(table, function_name, cluster, task_definition, subnet, state_machine_arn)


def _epoch(value: datetime) -> float:
    return value.timestamp()


def map_run_started_at(events: Iterable[Mapping[str, Any]]) -> float | None:
    """Epoch seconds of the first ``MapRunStarted`` event of an execution history, if any."""
    for event in events:
        if event["type"] == "MapRunStarted":
            return _epoch(event["timestamp"])
    return None


def all_running_after(map_started: float | None, starts: Sequence[float], expected: int) -> float | None:
    """Seconds from ``MapRunStarted`` until the last of ``expected`` invocations was running (its
    handler started); ``None`` unless every invocation reported its start."""
    if map_started is None or expected <= 0 or len(starts) < expected:
        return None
    return max(starts) - map_started


def run_fanout(
    clients: LocalClients,
    dep: SmokeDeployment,
    kind: str,
    invocations: int,
    label: str,
    timeout_s: float = 600,
) -> FanoutResult:
    """Start one execution, wait for it, and read its evidence back from DynamoDB and the history."""
    if kind not in KINDS:
        raise ValueError(f"kind must be one of {', '.join(KINDS)}, got {kind!r}")
    sfn = clients("stepfunctions")
    run_id = f"{label}-{uuid.uuid4().hex[:8]}"
    execution_arn = sfn.start_execution(
        stateMachineArn=dep.state_machine_arn,
        name=run_id,
        input=json.dumps({"run_id": run_id, "kind": kind, "last": invocations - 1}),
    )["executionArn"]
    deadline = time.monotonic() + timeout_s
    while True:
        described = sfn.describe_execution(executionArn=execution_arn)
        if described["status"] != "RUNNING":
            break
        if time.monotonic() > deadline:
            sfn.stop_execution(executionArn=execution_arn, error="Smoke.Timeout")
            described = sfn.describe_execution(executionArn=execution_arn)
            break
        time.sleep(0.1)
    history = sfn.get_execution_history(executionArn=execution_arn, maxResults=1000)["events"]
    records = _records(clients, dep.table, run_id)
    starts = [float(r["started_at"]) for r in records]
    all_running = all_running_after(map_run_started_at(history), starts, invocations)
    error = None
    if described["status"] != "SUCCEEDED":
        error = f"{described.get('error', '')}: {described.get('cause', '')}"[:500]
    cold = sum(1 for r in records if r["cold"])
    return FanoutResult(
        label=label,
        kind=kind,
        run_id=run_id,
        execution_arn=execution_arn,
        status=described["status"],
        requested=invocations,
        recorded=len(records),
        wall_s=_epoch(described["stopDate"]) - _epoch(described["startDate"]),
        all_running_s=all_running,
        cold=cold if kind == "lambda" else len(records),
        warm=len(records) - cold if kind == "lambda" else 0,
        error=error,
        records=records,
    )


def _records(clients: LocalClients, table: str, run_id: str) -> list[dict[str, Any]]:
    ddb = clients("dynamodb")
    items: list[dict[str, Any]] = []
    kwargs: dict[str, Any] = {
        "TableName": table,
        "KeyConditionExpression": "run_id = :r",
        "ExpressionAttributeValues": {":r": {"S": run_id}},
    }
    while True:
        page = ddb.query(**kwargs)
        for item in page["Items"]:
            items.append(
                {
                    "index": int(item["index"]["N"]),
                    "started_at": float(item["started_at"]["N"]),
                    "finished_at": float(item["finished_at"]["N"]),
                    "cold": item["cold"]["BOOL"],
                    "pid": int(item["pid"]["N"]),
                }
            )
        if "LastEvaluatedKey" not in page:
            return items
        kwargs["ExclusiveStartKey"] = page["LastEvaluatedKey"]


def machine_facts() -> dict[str, Any]:
    """What the figures were measured on (a report must be able to name its machine)."""
    import os
    import platform
    from importlib.metadata import version

    from perflab.local.stack import default_ecs_mode, default_lambda_mode

    memory_kb = 0
    with open("/proc/meminfo") as meminfo:
        for line in meminfo:
            if line.startswith("MemTotal:"):
                memory_kb = int(line.split()[1])
    return {
        "cpus": os.cpu_count(),
        "memory_gib": round(memory_kb / 2**20, 1),
        "platform": platform.platform(),
        "python": platform.python_version(),
        "moto": version("moto"),
        "lambda_mode": default_lambda_mode(),
        "ecs_mode": default_ecs_mode(),
    }


def _fmt(value: float | None, unit: str = "s") -> str:
    return "—" if value is None else f"{value:.2f} {unit}"


def run_smoke(invocations: int, compute: str, out: Path | None) -> int:
    """``perflab smoke``: start a stack, deploy, run the fan-outs, print and optionally save figures."""
    from perflab.local.process import local_cloud_process
    from perflab.local.procstats import PeakMemorySampler
    from perflab.local.stack import LocalCloudConfig

    plan = [
        ("lambda-cold", "lambda"),
        ("lambda-warm", "lambda"),
        ("ecs-sync", "ecs-sync"),
        ("ecs-token", "ecs-token"),
    ]
    if compute == "lambda":
        plan = plan[:2]
    elif compute == "ecs":
        plan = plan[2:]
    print(f"perflab smoke: {invocations}-way fan-out on the local cloud ({', '.join(p[0] for p in plan)})")
    results: list[FanoutResult] = []
    started = time.monotonic()
    with local_cloud_process(LocalCloudConfig(port=0, database=False)) as info:
        print(f"  stack up: {info.endpoint_url} (pid {info.pid}) in {time.monotonic() - started:.1f} s")
        clients = LocalClients(info.endpoint_url, info.region)
        dep = deploy(clients, max_concurrency=max(invocations, 1))
        with PeakMemorySampler(info.pid) as memory:
            for label, kind in plan:
                print(f"  running {label} …", flush=True)
                result = run_fanout(clients, dep, kind, invocations, label)
                results.append(result)
                print(
                    f"    {result.status}: {result.recorded}/{result.requested} recorded, "
                    f"wall {_fmt(result.wall_s)}, all running after {_fmt(result.all_running_s)}, "
                    f"cold {result.cold} warm {result.warm}"
                    + (f"\n    error: {result.error}" if result.error else ""),
                    flush=True,
                )
    peak_pss_mb = memory.peak_pss_bytes / 2**20
    peak_rss_mb = memory.peak_rss_bytes / 2**20
    print()
    print(f"{'run':<12} {'status':<10} {'ok/req':>8} {'wall':>9} {'all running':>12} {'cold':>5} {'warm':>5}")
    for r in results:
        print(
            f"{r.label:<12} {r.status:<10} {f'{r.recorded}/{r.requested}':>8} {_fmt(r.wall_s):>9} "
            f"{_fmt(r.all_running_s):>12} {r.cold:>5} {r.warm:>5}"
        )
    print(
        f"stack peak memory: {peak_pss_mb:.0f} MB PSS ({peak_rss_mb:.0f} MB summed RSS) "
        f"over {memory.peak_processes} processes"
    )
    if out is not None:
        out.parent.mkdir(parents=True, exist_ok=True)
        payload = {
            "schema": "perflab.smoke/1",
            "source": "local",
            "date": datetime.now(UTC).isoformat(timespec="seconds"),
            "machine": machine_facts(),
            "invocations": invocations,
            "runs": [{k: v for k, v in asdict(r).items() if k != "records"} for r in results],
            "stack_peak_pss_mb": round(peak_pss_mb, 1),
            "stack_peak_rss_mb": round(peak_rss_mb, 1),
            "stack_peak_processes": memory.peak_processes,
        }
        out.write_text(json.dumps(payload, indent=2) + "\n")
        print(f"wrote {out}")
    ok = all(r.status == "SUCCEEDED" and r.recorded == r.requested for r in results)
    return 0 if ok else 1


if __name__ == "__main__":
    sys.exit(run_smoke(100, "all", None))
