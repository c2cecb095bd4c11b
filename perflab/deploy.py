"""Deploy perflab onto the local cloud (or any AWS-compatible endpoint): the artifacts Terraform deploys.

:func:`deploy` creates, idempotently (a second call changes nothing that is already right):

- IAM roles for the functions, the state machine and the download task (least privilege is the
  Terraform issue's; locally nothing enforces IAM);
- the DynamoDB tables (:func:`perflab.results.create_tables`, PAY_PER_REQUEST) and the S3 bucket;
- the Lambda functions ``<name>-download`` (1024 MB, timeout ``settings.lambda_timeout_s``),
  ``<name>-aggregate`` and, when ``lambdas/api/handler.py`` exists, ``<name>-api``, from
  :func:`package_lambda` zips; code is updated only when the zip's sha256 changed, configuration
  only when it differs;
- the ECS cluster, a VPC with one subnet and a security group, the ``awslogs`` log group and the
  FARGATE task definition ``<name>-download`` (image :data:`TASK_IMAGE`, 1 vCPU / 2 GB), registered
  again only when it changed;
- the state machine ``<name>-download-fanout``, rendered from ``state_machines/download_fanout.asl.json``
  with the real ARNs (:func:`perflab.asl.render`), updated in place when it exists.

**The task's command.** The container definition carries ``command = python -m ecs_task`` (the image's
``CMD`` in ``ecs_task/Dockerfile``, so Fargate runs the same argv either way) and, locally, a
``workingDirectory`` of the repository root, which stands in for the image's ``WORKDIR /app``. The
local ECS agent runs a definition's command as given, so no image mapping
(``LocalCloudConfig.image_commands``) is needed and any running local cloud works: one started by
``perflab local up``, by ``perflab bench`` or by the test fixtures. :func:`local_cloud_config` is
the stack configuration perflab's commands start with.

**Lambda packages.** :func:`package_lambda` zips ``lambdas/<name>/`` (at the zip root) with the
``perflab`` package (without ``perflab/local``), with the zip builder ``make package`` uses
(:mod:`perflab.package`). Third-party libraries (boto3, pydantic, psycopg, Powertools…) are not in
the zip: the local runtime's workers import them from the project's venv, while ``make package`` adds
them as Lambda wheels for AWS. The zips are deterministic (fixed timestamps and order), so their
sha256 changes only when a source file does.
"""

from __future__ import annotations

import json
from collections.abc import Callable, Mapping
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from botocore.exceptions import ClientError

from perflab.asl import render_file
from perflab.aws_errors import error_code
from perflab.config import Settings
from perflab.package import code_sha256, lambda_sources, zip_bytes
from perflab.storage.s3 import ensure_bucket

REPO_ROOT = Path(__file__).resolve().parent.parent
LAMBDAS = REPO_ROOT / "lambdas"
#: The download task's image (``ecs_task/Dockerfile``); an ECR URI ending in this name matches too.
TASK_IMAGE = "perflab-download-task:latest"
TASK_COMMAND = ("python", "-m", "ecs_task")
TASK_CONTAINER = "download"
TASK_VCPU = 1.0
TASK_MEMORY_GB = 2.0
STATE_MACHINE = "download_fanout"
DOWNLOAD_MEMORY_MB = 1024
AGGREGATE_MEMORY_MB = 512
AGGREGATE_TIMEOUT_S = 300
API_MEMORY_MB = 512
API_TIMEOUT_S = 30
RUNTIME = "python3.11"

ClientFactory = Callable[[str], Any]


@dataclass(frozen=True)
class Deployment:
    """What :func:`deploy` created (names and ARNs a caller needs to start and read runs)."""

    name: str
    state_machine_arn: str
    download_function: str
    aggregate_function: str
    api_function: str | None
    cluster: str
    task_definition: str
    subnets: tuple[str, ...]
    security_groups: tuple[str, ...]
    bucket: str
    invocations_table: str
    runs_table: str
    api_id: str | None = None


def task_log_group(name: str = "perflab") -> str:
    """The CloudWatch log group of the download task's container (``awslogs``)."""
    return f"/perflab/{name}/download-task"


def local_cloud_config(**overrides: Any) -> Any:
    """The local cloud configuration perflab's commands start a stack with (``LocalCloudConfig``).

    Nothing perflab-specific is needed (the task definition carries its command, see the module
    docstring); this is the one place to add it if that changes.
    """
    from perflab.local.stack import LocalCloudConfig

    return LocalCloudConfig(**overrides)


# --- packaging ---------------------------------------------------------------------------------------


def package_lambda(name: str) -> bytes:
    """The local deployment package of ``lambdas/<name>`` (handler at the root) plus ``perflab``."""
    return zip_bytes(lambda_sources(name, REPO_ROOT))


# --- helpers -----------------------------------------------------------------------------------------


def _trust(*services: str) -> str:
    return json.dumps(
        {
            "Version": "2012-10-17",
            "Statement": [
                {"Effect": "Allow", "Principal": {"Service": list(services)}, "Action": "sts:AssumeRole"}
            ],
        }
    )


def _role(iam: Any, name: str, services: tuple[str, ...], policy: Mapping[str, Any]) -> str:
    try:
        arn = str(iam.get_role(RoleName=name)["Role"]["Arn"])
    except ClientError as error:
        if error_code(error) != "NoSuchEntity":
            raise
        arn = str(iam.create_role(RoleName=name, AssumeRolePolicyDocument=_trust(*services))["Role"]["Arn"])
    iam.put_role_policy(RoleName=name, PolicyName=f"{name}-policy", PolicyDocument=json.dumps(policy))
    return arn


def _policy(*statements: tuple[list[str], list[str]]) -> dict[str, Any]:
    return {
        "Version": "2012-10-17",
        "Statement": [
            {"Effect": "Allow", "Action": actions, "Resource": resources} for actions, resources in statements
        ],
    }


def _function(
    lam: Any,
    name: str,
    package: bytes,
    role_arn: str,
    *,
    memory_mb: int,
    timeout_s: int,
    environment: Mapping[str, str],
) -> str:
    """Create or update a function; return its ARN. Code is uploaded only when its hash changed."""
    configuration = {
        "Role": role_arn,
        "Handler": "handler.handler",
        "Runtime": RUNTIME,
        "MemorySize": memory_mb,
        "Timeout": timeout_s,
        "Environment": {"Variables": dict(environment)},
    }
    try:
        current = lam.get_function(FunctionName=name)["Configuration"]
    except ClientError as error:
        if error_code(error) != "ResourceNotFoundException":
            raise
        created = lam.create_function(FunctionName=name, Code={"ZipFile": package}, **configuration)
        return str(created["FunctionArn"])
    if current.get("CodeSha256") != code_sha256(package):
        lam.update_function_code(FunctionName=name, ZipFile=package)
    differs = (
        current.get("Role") != role_arn
        or current.get("Handler") != configuration["Handler"]
        or current.get("MemorySize") != memory_mb
        or current.get("Timeout") != timeout_s
        or (current.get("Environment") or {}).get("Variables", {}) != dict(environment)
    )
    if differs:
        lam.update_function_configuration(FunctionName=name, **configuration)
    return str(current["FunctionArn"])


def _tagged(name: str) -> list[dict[str, Any]]:
    return [{"Key": "Name", "Value": name}]


def _network(ec2: Any, name: str) -> tuple[tuple[str, ...], tuple[str, ...]]:
    """A VPC with one private subnet and a security group (egress only), found by their Name tag."""
    name_filter = [{"Name": "tag:Name", "Values": [name]}]
    vpcs = ec2.describe_vpcs(Filters=name_filter)["Vpcs"]
    if vpcs:
        vpc_id = vpcs[0]["VpcId"]
    else:
        vpc_id = ec2.create_vpc(
            CidrBlock="10.80.0.0/16", TagSpecifications=[{"ResourceType": "vpc", "Tags": _tagged(name)}]
        )["Vpc"]["VpcId"]
    subnets = ec2.describe_subnets(Filters=[*name_filter, {"Name": "vpc-id", "Values": [vpc_id]}])["Subnets"]
    if subnets:
        subnet_id = subnets[0]["SubnetId"]
    else:
        subnet_id = ec2.create_subnet(
            VpcId=vpc_id,
            CidrBlock="10.80.1.0/24",
            TagSpecifications=[{"ResourceType": "subnet", "Tags": _tagged(name)}],
        )["Subnet"]["SubnetId"]
    groups = ec2.describe_security_groups(
        Filters=[{"Name": "group-name", "Values": [name]}, {"Name": "vpc-id", "Values": [vpc_id]}]
    )["SecurityGroups"]
    if groups:
        group_id = groups[0]["GroupId"]
    else:
        group_id = ec2.create_security_group(
            GroupName=name, Description="perflab download tasks (egress only)", VpcId=vpc_id
        )["GroupId"]
    return (str(subnet_id),), (str(group_id),)


def _cluster(ecs: Any, name: str) -> str:
    found = [c for c in ecs.describe_clusters(clusters=[name])["clusters"] if c.get("status") == "ACTIVE"]
    if found:
        return str(found[0]["clusterArn"])
    return str(ecs.create_cluster(clusterName=name)["cluster"]["clusterArn"])


def _log_group(logs: Any, group: str) -> None:
    try:
        logs.create_log_group(logGroupName=group)
    except ClientError as error:
        if error_code(error) != "ResourceAlreadyExistsException":
            raise


def _task_definition(ecs: Any, family: str, definition: Mapping[str, Any]) -> str:
    """The latest revision of ``family`` when it equals ``definition``, else a new revision."""
    try:
        current = ecs.describe_task_definition(taskDefinition=family)["taskDefinition"]
    except ClientError as error:
        if error_code(error) not in ("ClientException", "ResourceNotFoundException"):
            raise
        current = None
    if current is not None and current.get("status", "ACTIVE") == "ACTIVE":
        wanted_container = definition["containerDefinitions"][0]
        have_container = current["containerDefinitions"][0]
        same = all(
            str(current.get(key)) == str(definition[key])
            for key in ("cpu", "memory", "networkMode", "taskRoleArn", "executionRoleArn")
        ) and all(
            _normalised(have_container.get(key)) == _normalised(wanted_container.get(key))
            for key in wanted_container
        )
        if same:
            return str(current["taskDefinitionArn"])
    return str(ecs.register_task_definition(**definition)["taskDefinition"]["taskDefinitionArn"])


def _normalised(value: Any) -> Any:
    if isinstance(value, list) and value and isinstance(value[0], dict) and "name" in value[0]:
        return sorted(json.dumps(v, sort_keys=True) for v in value)
    return json.dumps(value, sort_keys=True)


def _state_machine(sfn: Any, name: str, definition: str, role_arn: str) -> str:
    paginator = sfn.get_paginator("list_state_machines")
    for page in paginator.paginate():
        for machine in page["stateMachines"]:
            if machine["name"] == name:
                arn = str(machine["stateMachineArn"])
                described = sfn.describe_state_machine(stateMachineArn=arn)
                if described["definition"] != definition or described["roleArn"] != role_arn:
                    sfn.update_state_machine(stateMachineArn=arn, definition=definition, roleArn=role_arn)
                return arn
    return str(
        sfn.create_state_machine(name=name, definition=definition, roleArn=role_arn, type="STANDARD")[
            "stateMachineArn"
        ]
    )


def function_environment(settings: Settings, database_url: str | None) -> dict[str, str]:
    """What the download and aggregate code reads (``perflab.config.Settings`` via ``PERFLAB_*``)."""
    env = {
        "PERFLAB_REGION": settings.region,
        "PERFLAB_BUCKET": settings.bucket,
        "PERFLAB_INVOCATIONS_TABLE": settings.invocations_table,
        "PERFLAB_RUNS_TABLE": settings.runs_table,
        "PERFLAB_CHUNK_BYTES": str(settings.chunk_bytes),
        "POWERTOOLS_SERVICE_NAME": "perflab",
        "POWERTOOLS_METRICS_NAMESPACE": "perflab",
        # No X-Ray daemon on the local cloud (Terraform enables active tracing on AWS).
        "POWERTOOLS_TRACE_DISABLED": "true",
    }
    url = database_url or (settings.database_url.get_secret_value() if settings.database_url else None)
    if url:
        env["PERFLAB_DATABASE_URL"] = url
    return env


# --- deploy ------------------------------------------------------------------------------------------


def deploy(
    clients: ClientFactory,
    settings: Settings,
    database_url: str | None = None,
    *,
    name: str = "perflab",
    api_token: str | None = None,
    inject: str | None = None,
) -> Deployment:
    """Create or update everything the workload needs (see the module docstring); idempotent.

    ``inject`` (a :class:`perflab.faults.FaultSpec` text such as ``"raise"`` or ``"kill:2"``) deploys
    the download function and task with ``PERFLAB_INJECT`` set, so they really fail that way; a
    later deploy without it removes it again.

    ``api_token`` (else ``settings.api_token``) is the trigger API's bearer token; the API function sits
    behind an HTTP API (``perflab.deploy_api``). ``database_url`` (else ``settings.database_url``) is
    what functions and tasks connect to; ``name``
    prefixes every resource that is not named by the settings (functions, roles, cluster, state
    machine), so several deployments can share one cloud.
    """
    from perflab.results import create_tables

    region = settings.region
    account = clients("sts").get_caller_identity()["Account"]
    table_arns = [
        f"arn:aws:dynamodb:{region}:{account}:table/{settings.invocations_table}",
        f"arn:aws:dynamodb:{region}:{account}:table/{settings.runs_table}",
    ]
    bucket_arns = [f"arn:aws:s3:::{settings.bucket}", f"arn:aws:s3:::{settings.bucket}/*"]
    logs = (["logs:CreateLogStream", "logs:PutLogEvents", "logs:CreateLogGroup"], ["*"])

    create_tables(clients("dynamodb"), settings)
    ensure_bucket(clients("s3"), settings.bucket, region)

    iam = clients("iam")
    lambda_role = _role(
        iam,
        f"{name}-lambda",
        ("lambda.amazonaws.com",),
        _policy(
            (["dynamodb:PutItem", "dynamodb:UpdateItem", "dynamodb:GetItem", "dynamodb:Query"], table_arns),
            (["dynamodb:Scan"], table_arns),
            (["s3:GetObject", "s3:ListBucket"], bucket_arns),
            (["states:StartExecution", "states:DescribeExecution"], ["*"]),
            logs,
        ),
    )
    task_role = _role(
        iam,
        f"{name}-task",
        ("ecs-tasks.amazonaws.com",),
        _policy(
            (["dynamodb:PutItem", "dynamodb:UpdateItem"], table_arns),
            (["s3:GetObject", "s3:ListBucket"], bucket_arns),
            logs,
        ),
    )

    env = function_environment(settings, database_url)
    download_env = env
    if inject:
        from perflab.faults import ENV_VAR, FaultSpec

        download_env = {**env, ENV_VAR: str(FaultSpec.parse(inject))}
    lam = clients("lambda")
    download_function = f"{name}-download"
    aggregate_function = f"{name}-aggregate"
    download_arn = _function(
        lam,
        download_function,
        package_lambda("download"),
        lambda_role,
        memory_mb=DOWNLOAD_MEMORY_MB,
        timeout_s=settings.lambda_timeout_s,
        environment=download_env,
    )
    aggregate_arn = _function(
        lam,
        aggregate_function,
        package_lambda("aggregate"),
        lambda_role,
        memory_mb=AGGREGATE_MEMORY_MB,
        timeout_s=AGGREGATE_TIMEOUT_S,
        environment=env,
    )

    ecs = clients("ecs")
    cluster = _cluster(ecs, name)
    subnets, security_groups = _network(clients("ec2"), name)
    log_group = task_log_group(name)
    _log_group(clients("logs"), log_group)
    container_env = [{"name": key, "value": value} for key, value in sorted(download_env.items())]
    task_definition = _task_definition(
        ecs,
        f"{name}-download",
        {
            "family": f"{name}-download",
            "requiresCompatibilities": ["FARGATE"],
            "networkMode": "awsvpc",
            "cpu": str(int(TASK_VCPU * 1024)),
            "memory": str(int(TASK_MEMORY_GB * 1024)),
            "taskRoleArn": task_role,
            "executionRoleArn": task_role,
            "containerDefinitions": [
                {
                    "name": TASK_CONTAINER,
                    "image": TASK_IMAGE,
                    "essential": True,
                    "command": list(TASK_COMMAND),
                    # Locally the image's WORKDIR is the checkout (ecs_task/ is importable from it).
                    "workingDirectory": str(REPO_ROOT),
                    "environment": container_env,
                    "logConfiguration": {
                        "logDriver": "awslogs",
                        "options": {
                            "awslogs-group": log_group,
                            "awslogs-region": region,
                            "awslogs-stream-prefix": "download",
                        },
                    },
                }
            ],
        },
    )

    states_role = _role(
        iam,
        f"{name}-states",
        ("states.amazonaws.com",),
        _policy(
            (["lambda:InvokeFunction"], [download_arn, aggregate_arn]),
            (["ecs:RunTask", "ecs:StopTask", "ecs:DescribeTasks"], ["*"]),
            (["iam:PassRole"], [task_role]),
            (["events:PutTargets", "events:PutRule", "events:DescribeRule"], ["*"]),
            (["dynamodb:PutItem", "dynamodb:UpdateItem"], table_arns),
            (["states:StartExecution", "states:DescribeExecution", "states:StopExecution"], ["*"]),
        ),
    )
    definition = render_file(
        STATE_MACHINE,
        {
            "download_function_arn": download_arn,
            "aggregate_function_arn": aggregate_arn,
            "cluster_arn": cluster,
            "task_definition_arn": task_definition,
            "container_name": TASK_CONTAINER,
            "subnet_ids": ",".join(subnets),
            "security_group_ids": ",".join(security_groups),
            "assign_public_ip": "DISABLED",
            "invocations_table": settings.invocations_table,
            "runs_table": settings.runs_table,
        },
    )
    state_machine_arn = _state_machine(
        clients("stepfunctions"), f"{name}-download-fanout", definition, states_role
    )

    api_function: str | None = None
    api_id: str | None = None
    if (LAMBDAS / "api" / "handler.py").is_file():
        api_function = f"{name}-api"
        api_env = {**env, "PERFLAB_STATE_MACHINE_ARN": state_machine_arn}
        token = api_token or (settings.api_token.get_secret_value() if settings.api_token else None)
        if token is not None:
            api_env["PERFLAB_API_TOKEN"] = token
        api_arn = _function(
            lam,
            api_function,
            package_lambda("api"),
            lambda_role,
            memory_mb=API_MEMORY_MB,
            timeout_s=API_TIMEOUT_S,
            environment=api_env,
        )
        from perflab.deploy_api import deploy_api

        api_id = deploy_api(clients, settings, api_arn)

    return Deployment(
        name=name,
        state_machine_arn=state_machine_arn,
        download_function=download_function,
        aggregate_function=aggregate_function,
        api_function=api_function,
        cluster=cluster,
        task_definition=task_definition,
        subnets=subnets,
        security_groups=security_groups,
        bucket=settings.bucket,
        invocations_table=settings.invocations_table,
        runs_table=settings.runs_table,
        api_id=api_id,
    )
