"""The local ECS agent runs RunTask'd task definitions as real processes with ECS's lifecycle."""

from __future__ import annotations

import signal
import time
from concurrent.futures import ThreadPoolExecutor
from pathlib import Path

import pytest

from perflab.local.context import StackContext
from perflab.local.ecs_agent import (
    TaskStartError,
    build_argv,
    build_env,
    resolve_image_command,
)
from perflab.local.stack import LocalCloudInfo
from tests.conftest import ClientFactory, unique
from tests.local.ecs_helpers import EcsEnv, get_item, make_ecs_env, register, run, wait_task
from tests.local.helpers import pid_gone, wait_for_file

#: Writes one DynamoDB item from inside the task: the evidence that the code ran, with its env.
WRITE_ITEM = (
    "import os, boto3\n"
    "boto3.client('dynamodb').put_item(TableName=os.environ['TABLE'], Item={\n"
    "    'id': {'S': os.environ['ITEM_ID']},\n"
    "    'execution_env': {'S': os.environ['AWS_EXECUTION_ENV']},\n"
    "    'endpoint': {'S': os.environ['AWS_ENDPOINT_URL']},\n"
    "    'greeting': {'S': os.environ.get('GREETING', '-')},\n"
    "    'argv': {'S': ' '.join(__import__('sys').argv[1:])},\n"
    "})\n"
)

#: Records its pid in $PIDFILE, then sleeps (optionally ignoring SIGTERM).
SLEEPER = (
    "import os, signal, sys, time\n"
    "if os.environ.get('IGNORE_TERM'): signal.signal(signal.SIGTERM, signal.SIG_IGN)\n"
    "open(os.environ['PIDFILE'] + '.tmp', 'w').write(str(os.getpid()))\n"
    "os.rename(os.environ['PIDFILE'] + '.tmp', os.environ['PIDFILE'])\n"
    "time.sleep(120)\n"
)


@pytest.fixture(scope="module")
def ecs_env(aws: ClientFactory) -> EcsEnv:
    return make_ecs_env(aws)


def test_task_runs_writes_evidence_and_stops_with_exit_0(aws: ClientFactory, ecs_env: EcsEnv) -> None:
    ecs = aws("ecs")
    item_id = unique("item")
    arn = register(ecs, ["python", "-c", WRITE_ITEM], {"TABLE": ecs_env.table, "ITEM_ID": item_id})
    started = run(ecs, ecs_env, arn)
    assert started["lastStatus"] in ("PROVISIONING", "PENDING", "RUNNING")
    assert started["desiredStatus"] == "RUNNING"

    task = wait_task(ecs, ecs_env, started["taskArn"])

    assert task["lastStatus"] == "STOPPED"
    assert task["desiredStatus"] == "STOPPED"
    assert task["stopCode"] == "EssentialContainerExited"
    assert task["stoppedReason"] == "Essential container in task exited"
    assert task["containers"][0].get("exitCode") == 0, task
    assert task["containers"][0]["lastStatus"] == "STOPPED"
    order = ["createdAt", "pullStartedAt", "pullStoppedAt", "startedAt", "stoppingAt", "stoppedAt"]
    times = [task[key] for key in order]
    assert times == sorted(times), dict(zip(order, times, strict=True))
    assert task["executionStoppedAt"] <= task["stoppedAt"]
    item = get_item(aws, ecs_env.table, item_id)
    assert item is not None
    assert item["execution_env"] == {"S": "AWS_ECS_FARGATE"}
    assert item["endpoint"]["S"].startswith("http://127.0.0.1:")


def test_non_zero_exit_is_reported(aws: ClientFactory, ecs_env: EcsEnv) -> None:
    ecs = aws("ecs")
    arn = register(ecs, ["python", "-c", "import sys; sys.exit(1)"])
    task = wait_task(ecs, ecs_env, run(ecs, ecs_env, arn)["taskArn"])
    assert task["containers"][0].get("exitCode") == 1, task
    assert task["stopCode"] == "EssentialContainerExited"


def test_overrides_command_and_environment_apply(aws: ClientFactory, ecs_env: EcsEnv) -> None:
    ecs = aws("ecs")
    item_id = unique("item")
    arn = register(
        ecs,
        ["python", "-c", "raise SystemExit(3)"],
        {"TABLE": ecs_env.table, "ITEM_ID": "not-this-one", "GREETING": "from-definition"},
    )
    overrides = {
        "containerOverrides": [
            {
                "name": "main",
                "command": ["python", "-c", WRITE_ITEM, "overridden", "argv"],
                "environment": [
                    {"name": "ITEM_ID", "value": item_id},
                    {"name": "GREETING", "value": "from-override"},
                ],
            }
        ]
    }
    task = wait_task(ecs, ecs_env, run(ecs, ecs_env, arn, overrides=overrides)["taskArn"])
    assert task["containers"][0].get("exitCode") == 0, task
    item = get_item(aws, ecs_env.table, item_id)
    assert item is not None
    assert item["greeting"] == {"S": "from-override"}
    assert item["argv"] == {"S": "overridden argv"}


def test_stop_task_terminates_the_process(aws: ClientFactory, ecs_env: EcsEnv, tmp_path: Path) -> None:
    ecs = aws("ecs")
    pidfile = tmp_path / "pid"
    arn = register(ecs, ["python", "-c", SLEEPER], {"PIDFILE": str(pidfile)})
    task_arn = run(ecs, ecs_env, arn)["taskArn"]
    pid = int(wait_for_file(pidfile))
    assert wait_task(ecs, ecs_env, task_arn, "RUNNING")["lastStatus"] == "RUNNING"

    stopping = ecs.stop_task(cluster=ecs_env.cluster, task=task_arn, reason="enough")["task"]
    assert stopping["desiredStatus"] == "STOPPED"

    task = wait_task(ecs, ecs_env, task_arn)
    assert task["stopCode"] == "UserInitiated"
    assert task["stoppedReason"] == "enough"
    assert task["containers"][0].get("exitCode") == 128 + signal.SIGTERM, task
    assert pid_gone(pid)
    # StopTask on a stopped task answers it unchanged.
    again = ecs.stop_task(cluster=ecs_env.cluster, task=task_arn, reason="again")["task"]
    assert again["stoppedReason"] == "enough"


def test_stop_task_escalates_to_sigkill_after_stop_timeout(
    aws: ClientFactory, ecs_env: EcsEnv, tmp_path: Path
) -> None:
    ecs = aws("ecs")
    pidfile = tmp_path / "pid"
    arn = register(
        ecs, ["python", "-c", SLEEPER], {"PIDFILE": str(pidfile), "IGNORE_TERM": "1"}, stopTimeout=1
    )
    task_arn = run(ecs, ecs_env, arn)["taskArn"]
    pid = int(wait_for_file(pidfile))
    ecs.stop_task(cluster=ecs_env.cluster, task=task_arn)
    task = wait_task(ecs, ecs_env, task_arn, timeout=15)
    assert task["containers"][0].get("exitCode") == 128 + signal.SIGKILL, task
    assert task["stopCode"] == "UserInitiated"
    assert pid_gone(pid)


def test_output_goes_to_cloudwatch_logs(aws: ClientFactory, ecs_env: EcsEnv) -> None:
    ecs, logs = aws("ecs"), aws("logs")
    group = f"/ecs/{unique('logs')}"
    code = "import sys; print('hello out'); print('hello err', file=sys.stderr); print('no newline', end='')"
    arn = register(
        ecs,
        ["python", "-c", code],
        logConfiguration={
            "logDriver": "awslogs",
            "options": {
                "awslogs-group": group,
                "awslogs-region": "us-east-1",
                "awslogs-stream-prefix": "perflab",
                "awslogs-create-group": "true",
            },
        },
    )
    task = wait_task(ecs, ecs_env, run(ecs, ecs_env, arn)["taskArn"])
    task_id = task["taskArn"].rsplit("/", 1)[-1]
    events = logs.get_log_events(logGroupName=group, logStreamName=f"perflab/main/{task_id}")["events"]
    assert sorted(e["message"] for e in events) == ["hello err", "hello out", "no newline"]


def test_awslogs_without_group_fails_to_start(aws: ClientFactory, ecs_env: EcsEnv) -> None:
    ecs = aws("ecs")
    options = {"awslogs-group": f"/ecs/{unique('missing')}", "awslogs-region": "us-east-1"}
    arn = register(
        ecs, ["python", "-c", "pass"], logConfiguration={"logDriver": "awslogs", "options": options}
    )
    task = wait_task(ecs, ecs_env, run(ecs, ecs_env, arn)["taskArn"])
    assert task["stopCode"] == "TaskFailedToStart"
    assert "log group does not exist" in task["stoppedReason"]
    assert "exitCode" not in task["containers"][0]


def test_unknown_executable_fails_to_start(aws: ClientFactory, ecs_env: EcsEnv) -> None:
    ecs = aws("ecs")
    arn = register(ecs, ["perflab-no-such-binary"])
    task = wait_task(ecs, ecs_env, run(ecs, ecs_env, arn)["taskArn"])
    assert task["stopCode"] == "TaskFailedToStart"
    assert task["stoppedReason"].startswith("CannotStartContainerError")


def test_output_without_awslogs_goes_to_a_file(
    aws: ClientFactory, ecs_env: EcsEnv, local_cloud: LocalCloudInfo
) -> None:
    ecs = aws("ecs")
    arn = register(ecs, ["python", "-c", "print('to the file')"])
    task = wait_task(ecs, ecs_env, run(ecs, ecs_env, arn)["taskArn"])
    task_id = task["taskArn"].rsplit("/", 1)[-1]
    assert (Path(local_cloud.state_dir) / "ecs-tasks" / f"{task_id}.log").read_text() == "to the file\n"


def test_100_concurrent_run_tasks(aws: ClientFactory, ecs_env: EcsEnv) -> None:
    ecs = aws("ecs")
    arn = register(ecs, ["python", "-c", "import time; time.sleep(1)"])
    count = 100
    t0 = time.perf_counter()
    with ThreadPoolExecutor(max_workers=25) as pool:
        task_arns = list(pool.map(lambda _: run(ecs, ecs_env, arn)["taskArn"], range(count)))
    submitted = time.perf_counter() - t0
    assert len(set(task_arns)) == count

    def statuses() -> list[dict[str, object]]:
        tasks: list[dict[str, object]] = ecs.describe_tasks(cluster=ecs_env.cluster, tasks=task_arns)["tasks"]
        return tasks

    all_running = None
    deadline = time.monotonic() + 90
    while True:
        tasks = statuses()
        states = [t["lastStatus"] for t in tasks]
        if all_running is None and all(s in ("RUNNING", "STOPPED") for s in states):
            all_running = time.perf_counter() - t0
        if all(s == "STOPPED" for s in states):
            break
        assert time.monotonic() < deadline, f"not all stopped: {sorted(set(states))}"
        time.sleep(0.1)
    all_stopped = time.perf_counter() - t0
    assert len(tasks) == count
    assert all(t["containers"][0]["exitCode"] == 0 for t in tasks)  # type: ignore[index]
    print(
        f"\n100 concurrent RunTask: submitted {submitted:.2f} s, all started {all_running:.2f} s, "
        f"all stopped {all_stopped:.2f} s"
    )


# -- pure parts ------------------------------------------------------------------------------


def test_image_mapping_matches_full_name_last_component_and_bare_name() -> None:
    mapping = {"perflab-download-task:latest": ["python", "-m", "ecs_task"], "plain": ["x"]}
    ecr = "123456789012.dkr.ecr.us-east-1.amazonaws.com/perflab-download-task:latest"
    assert resolve_image_command(ecr, mapping) == ["python", "-m", "ecs_task"]
    assert resolve_image_command("registry/plain:1.2@sha256:abc", mapping) == ["x"]
    assert resolve_image_command("other:latest", mapping) is None


def test_argv_follows_docker_entrypoint_and_command_rules() -> None:
    mapping = {"img:1": ["python", "-m", "ecs_task"]}
    definition = {"name": "main", "image": "img:1", "command": ["--a"]}
    assert build_argv(definition, {}, mapping, "/venv/python") == ["/venv/python", "-m", "ecs_task", "--a"]
    assert build_argv(definition, {"command": ["--b"]}, mapping, "/py") == ["/py", "-m", "ecs_task", "--b"]
    with_entry = {**definition, "entryPoint": ["sh", "-c"]}
    assert build_argv(with_entry, {}, mapping, "/py") == ["sh", "-c", "--a"]
    with pytest.raises(TaskStartError):
        build_argv({"name": "main", "image": "unmapped"}, {}, mapping, "/py")


def test_environment_layers_override_in_ecs_order(tmp_path: Path) -> None:
    ctx = StackContext("http://127.0.0.1:1", "eu-west-1", tmp_path)
    definition = {"environment": [{"name": "A", "value": "def"}, {"name": "AWS_REGION", "value": "x"}]}
    override = {"environment": [{"name": "A", "value": "ovr"}]}
    env = build_env(ctx, definition, override, "FARGATE")
    assert env["A"] == "ovr"
    assert env["AWS_REGION"] == "x"
    assert env["AWS_DEFAULT_REGION"] == "eu-west-1"
    assert env["AWS_ENDPOINT_URL"] == "http://127.0.0.1:1"
    assert env["AWS_EXECUTION_ENV"] == "AWS_ECS_FARGATE"
    assert "ECS_CONTAINER_METADATA_URI_V4" not in env


@pytest.mark.parametrize(
    ("code", "status"),
    [
        ("pass", "SUCCEEDED"),
        ("raise SystemExit(1)", "FAILED"),
    ],
)
def test_step_functions_run_task_sync(aws: ClientFactory, ecs_env: EcsEnv, code: str, status: str) -> None:
    import json

    from tests.local.helpers import run_state_machine

    ecs, sfn = aws("ecs"), aws("stepfunctions")
    arn = register(ecs, ["python", "-c", code])
    definition = {
        "StartAt": "Run",
        "States": {
            "Run": {
                "Type": "Task",
                "Resource": "arn:aws:states:::ecs:runTask.sync",
                "Parameters": {
                    "Cluster": ecs_env.cluster,
                    "TaskDefinition": arn,
                    "LaunchType": "FARGATE",
                    "NetworkConfiguration": {"AwsvpcConfiguration": {"Subnets": [ecs_env.subnet]}},
                },
                "TimeoutSeconds": 60,
                "End": True,
            }
        },
    }
    described = run_state_machine(sfn, definition, name_prefix="ecs-sync")
    assert described["status"] == status, (described.get("error"), described.get("cause"))
    if status == "FAILED":
        assert described["error"] == "States.TaskFailed"
    else:
        assert json.loads(described["output"])["Containers"][0]["ExitCode"] == 0
