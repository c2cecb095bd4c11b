"""The ECS agent's ``forkserver`` mode: Python task commands forked from the preloaded spawner.

Each stack here is started with its mode given explicitly (the session's stack uses the machine's
default). Evidence of a fork: ``botocore`` is already in ``sys.modules`` when the task's first line
runs (the spawner preloaded it); a spawned interpreter has not imported it.
"""

from __future__ import annotations

import json
import os
import signal
import sys
import time
from collections.abc import Iterator, Mapping, Sequence
from concurrent.futures import ThreadPoolExecutor
from pathlib import Path
from typing import Any

import pytest

from perflab.local.context import StackContext
from perflab.local.ecs_agent import build_env, parse_python_command
from perflab.local.ecs_agent.pytask import PythonCommand, env_blocker
from perflab.local.process import local_cloud_process
from perflab.local.stack import LocalCloudConfig, LocalCloudInfo
from tests.conftest import ClientFactory, make_client_factory, unique
from tests.local.ecs_helpers import EcsEnv, get_item, make_ecs_env, register, run, wait_task
from tests.local.helpers import pid_gone, wait_for_file

PY = "/venv/bin/python"

#: Prints, as one JSON line, what the task sees of its process. First statement: nothing imported yet.
PROBE = (
    "import sys\n"
    "preloaded = 'botocore' in sys.modules\n"
    "import json, os, signal\n"
    "print(json.dumps({\n"
    "    'preloaded': preloaded,\n"
    "    'environ': dict(os.environ),\n"
    "    'argv': sys.argv,\n"
    "    'path0': sys.path[0],\n"
    "    'cwd': os.getcwd(),\n"
    "    'pid': os.getpid(),\n"
    "    'fds': sorted(int(fd) for fd in os.listdir('/proc/self/fd')),\n"
    "    'perflab_modules': sorted(m for m in sys.modules if m.split('.')[0] == 'perflab'),\n"
    "    'sigint': repr(signal.getsignal(signal.SIGINT)),\n"
    "    'sigterm': repr(signal.getsignal(signal.SIGTERM)),\n"
    "    'stdin': sys.stdin.read(),\n"
    "    'main_file': globals().get('__file__'),\n"
    "}))\n"
)

#: Records its pid in $PIDFILE, then sleeps.
SLEEPER = (
    "import os, time\n"
    "open(os.environ['PIDFILE'] + '.tmp', 'w').write(str(os.getpid()))\n"
    "os.rename(os.environ['PIDFILE'] + '.tmp', os.environ['PIDFILE'])\n"
    "time.sleep(120)\n"
)


# -- which commands are forked (pure) --------------------------------------------------------


@pytest.mark.parametrize(
    ("argv", "expected"),
    [
        ([PY, "-m", "pkg.mod", "a"], PythonCommand("module", "pkg.mod", ("a",))),
        ([PY, "-mpkg.mod"], PythonCommand("module", "pkg.mod", ())),
        ([PY, "-c", "pass", "-x", "--y"], PythonCommand("code", "pass", ("-x", "--y"))),
        ([PY, "-u", "-c", "pass"], PythonCommand("code", "pass", (), unbuffered=True)),
        ([PY, "-uB", "script.py", "-m"], PythonCommand("script", "script.py", ("-m",), True, True)),
        ([PY, "-Bm", "mod"], PythonCommand("module", "mod", (), dont_write_bytecode=True)),
        ([PY, "script.py"], PythonCommand("script", "script.py", ())),
    ],
)
def test_python_commands_that_are_forked(argv: list[str], expected: PythonCommand) -> None:
    assert parse_python_command(argv, PY) == expected


@pytest.mark.parametrize(
    "argv",
    [
        ["/usr/bin/python3", "-c", "pass"],  # another interpreter
        [PY],  # reads stdin
        [PY, "-"],
        [PY, "-m"],
        [PY, "-c"],
        [PY, "-O", "-c", "pass"],
        [PY, "-X", "dev", "-c", "pass"],
        [PY, "-W", "error", "script.py"],
        [PY, "-I", "-m", "mod"],
        [PY, "--version"],
        ["sh", "-c", "python -c pass"],
    ],
)
def test_other_commands_are_spawned(argv: list[str]) -> None:
    assert parse_python_command(argv, PY) is None


def test_environments_that_change_interpreter_start_up_are_spawned() -> None:
    base = {"HOME": "/root", "LANG": "C.UTF-8", "PATH": "/bin"}
    assert (
        env_blocker({**base, "A": "1", "PYTHONUNBUFFERED": "1", "PYTHONDONTWRITEBYTECODE": "1"}, base) is None
    )
    assert env_blocker({**base, "PYTHONPATH": "/x"}, base) == "PYTHONPATH is set"
    assert env_blocker({**base, "PYTHONHASHSEED": "0"}, base) == "PYTHONHASHSEED is set"
    assert env_blocker({**base, "HOME": "/elsewhere"}, base) == "HOME differs from the spawner's"
    assert env_blocker({**base, "LC_ALL": "C"}, base) == "LC_ALL differs from the spawner's"


# -- forked tasks on a stack in forkserver mode ----------------------------------------------


def _stack(mode: str) -> Iterator[LocalCloudInfo]:
    with local_cloud_process(LocalCloudConfig(port=0, database=False, ecs_mode=mode)) as info:
        yield info


@pytest.fixture(scope="module")
def forkserver_cloud() -> Iterator[LocalCloudInfo]:
    yield from _stack("forkserver")


@pytest.fixture(scope="module")
def fs_aws(forkserver_cloud: LocalCloudInfo) -> ClientFactory:
    return make_client_factory(forkserver_cloud)


@pytest.fixture(scope="module")
def fs_ecs(fs_aws: ClientFactory) -> EcsEnv:
    return make_ecs_env(fs_aws)


def _run_logged(
    aws: ClientFactory,
    ecs_env: EcsEnv,
    info: LocalCloudInfo,
    command: Sequence[str],
    environment: Mapping[str, str] | None = None,
    **container: Any,
) -> tuple[dict[str, Any], str]:
    """Run a task to its end; return it and its output (the agent's per-task log file)."""
    ecs = aws("ecs")
    arn = register(ecs, command, environment, **container)
    task = wait_task(ecs, ecs_env, run(ecs, ecs_env, arn)["taskArn"])
    task_id = task["taskArn"].rsplit("/", 1)[-1]
    return task, (Path(info.state_dir) / "ecs-tasks" / f"{task_id}.log").read_text()


def _expected_env(info: LocalCloudInfo, environment: Mapping[str, str], task_arn: str) -> dict[str, str]:
    """The task's environment as the agent builds it (the stack inherited this process's)."""
    ctx = StackContext(info.endpoint_url, info.region, Path(info.state_dir))
    definition = {"environment": [{"name": k, "value": v} for k, v in environment.items()]}
    return build_env(ctx, definition, {}, "FARGATE", task_arn)


def _probe(log: str) -> dict[str, Any]:
    probe: dict[str, Any] = json.loads(log.splitlines()[-1])
    return probe


def test_forked_task_sees_exactly_its_environment_and_argv(
    fs_aws: ClientFactory, fs_ecs: EcsEnv, forkserver_cloud: LocalCloudInfo
) -> None:
    environment = {"GREETING": "hello", "AWS_DEFAULT_REGION": "eu-west-1"}
    task, log = _run_logged(fs_aws, fs_ecs, forkserver_cloud, ["python", "-c", PROBE, "a", "-b"], environment)

    assert task["containers"][0].get("exitCode") == 0, (task, log)
    probe = _probe(log)
    assert probe["preloaded"] is True  # forked from the spawner, not a fresh interpreter
    assert probe["environ"] == _expected_env(forkserver_cloud, environment, task["taskArn"])
    assert probe["argv"] == ["-c", "a", "-b"]
    assert probe["path0"] == ""
    assert probe["perflab_modules"] == []
    assert probe["fds"] == [0, 1, 2, 3]  # 3: the listdir itself; nothing of the spawner's
    assert probe["sigint"] == "<built-in function default_int_handler>"
    assert probe["sigterm"] == "<Handlers.SIG_DFL: 0>"
    assert probe["stdin"] == ""
    assert probe["pid"] not in (forkserver_cloud.pid, os.getpid())


def test_forked_task_uses_its_own_environment_for_boto3(
    fs_aws: ClientFactory, fs_ecs: EcsEnv, forkserver_cloud: LocalCloudInfo
) -> None:
    item_id = unique("item")
    code = (
        "import os, boto3\n"
        "client = boto3.client('dynamodb')\n"
        "client.put_item(TableName=os.environ['TABLE'], Item={'id': {'S': os.environ['ITEM_ID']},"
        " 'region': {'S': client.meta.region_name}})\n"
    )
    environment = {"TABLE": fs_ecs.table, "ITEM_ID": item_id}
    task, log = _run_logged(fs_aws, fs_ecs, forkserver_cloud, ["python", "-c", code], environment)
    assert task["containers"][0].get("exitCode") == 0, (task, log)
    item = get_item(fs_aws, fs_ecs.table, item_id)
    assert item is not None
    assert item["region"] == {"S": forkserver_cloud.region}


@pytest.mark.parametrize(
    ("code", "exit_code"),
    [
        ("print('done')", 0),
        ("import sys; sys.exit(3)", 3),
        ("raise SystemExit('bye')", 1),
        ("def fail():\n    raise ValueError('boom')\nfail()", 1),
    ],
)
def test_forked_task_exit_codes(
    fs_aws: ClientFactory, fs_ecs: EcsEnv, forkserver_cloud: LocalCloudInfo, code: str, exit_code: int
) -> None:
    task, log = _run_logged(fs_aws, fs_ecs, forkserver_cloud, ["python", "-c", code])
    assert task["containers"][0].get("exitCode") == exit_code, (task, log)
    assert task["stopCode"] == "EssentialContainerExited"
    if "boom" in code:
        assert log == (
            "Traceback (most recent call last):\n"
            '  File "<string>", line 3, in <module>\n'
            '  File "<string>", line 2, in fail\n'
            "ValueError: boom\n"
        )
    elif "bye" in code:
        assert log == "bye\n"


def test_forked_task_joins_threads_and_runs_atexit(
    fs_aws: ClientFactory, fs_ecs: EcsEnv, forkserver_cloud: LocalCloudInfo
) -> None:
    """atexit handlers of the task run, and non-daemon threads are joined, before the exit."""
    code = (
        "import atexit, threading\n"
        "atexit.register(print, 'atexit ran')\n"
        "threading.Thread(target=print, args=('thread ran',)).start()\n"
        "raise SystemExit(5)\n"
    )
    task, log = _run_logged(fs_aws, fs_ecs, forkserver_cloud, ["python", "-u", "-c", code])
    assert task["containers"][0].get("exitCode") == 5, task
    assert log.splitlines() == ["thread ran", "atexit ran"]


def test_forked_module_and_script_forms(
    fs_aws: ClientFactory, fs_ecs: EcsEnv, forkserver_cloud: LocalCloudInfo, tmp_path: Path
) -> None:
    (tmp_path / "probe_mod.py").write_text(PROBE)
    (tmp_path / "probe_script.py").write_text(PROBE)

    task, log = _run_logged(
        fs_aws, fs_ecs, forkserver_cloud, ["python", "-m", "probe_mod", "x"], workingDirectory=str(tmp_path)
    )
    assert task["containers"][0].get("exitCode") == 0, (task, log)
    probe = _probe(log)
    assert probe["preloaded"] is True
    assert probe["argv"] == [str(tmp_path / "probe_mod.py"), "x"]
    assert probe["path0"] == probe["cwd"] == str(tmp_path)
    assert probe["main_file"] == str(tmp_path / "probe_mod.py")

    task, log = _run_logged(
        fs_aws, fs_ecs, forkserver_cloud, ["python", "probe_script.py", "y"], workingDirectory=str(tmp_path)
    )
    assert task["containers"][0].get("exitCode") == 0, (task, log)
    probe = _probe(log)
    assert probe["preloaded"] is True
    assert probe["argv"] == ["probe_script.py", "y"]
    assert probe["path0"] == os.path.realpath(tmp_path)
    assert probe["main_file"] == str(tmp_path / "probe_script.py")


def test_other_commands_still_spawn_in_forkserver_mode(
    fs_aws: ClientFactory, fs_ecs: EcsEnv, forkserver_cloud: LocalCloudInfo, tmp_path: Path
) -> None:
    task, log = _run_logged(
        fs_aws, fs_ecs, forkserver_cloud, ["sh", "-c", 'echo "$GREETING"; exit 4'], {"GREETING": "hi"}
    )
    assert task["containers"][0].get("exitCode") == 4, task
    assert log == "hi\n"
    # PYTHONPATH changes the interpreter's start-up: such a task gets a fresh interpreter.
    task, log = _run_logged(
        fs_aws, fs_ecs, forkserver_cloud, ["python", "-c", PROBE], {"PYTHONPATH": str(tmp_path)}
    )
    assert task["containers"][0].get("exitCode") == 0, (task, log)
    probe = _probe(log)
    assert probe["preloaded"] is False
    assert probe["environ"]["PYTHONPATH"] == str(tmp_path)


def test_stop_task_kills_a_forked_task(
    fs_aws: ClientFactory, fs_ecs: EcsEnv, forkserver_cloud: LocalCloudInfo, tmp_path: Path
) -> None:
    ecs = fs_aws("ecs")
    pidfile = tmp_path / "pid"
    arn = register(ecs, ["python", "-c", SLEEPER], {"PIDFILE": str(pidfile)})
    task_arn = run(ecs, fs_ecs, arn)["taskArn"]
    assert wait_task(ecs, fs_ecs, task_arn, "RUNNING")["lastStatus"] == "RUNNING"
    pid = int(wait_for_file(pidfile))
    # A forked task shows the spawner's command line (there was no exec).
    assert b"perflab.local.ecs_agent.spawner" in Path(f"/proc/{pid}/cmdline").read_bytes()

    ecs.stop_task(cluster=fs_ecs.cluster, task=task_arn, reason="enough")
    task = wait_task(ecs, fs_ecs, task_arn)
    assert task["stopCode"] == "UserInitiated"
    assert task["containers"][0].get("exitCode") == 128 + signal.SIGTERM, task
    assert pid_gone(pid)


def test_100_concurrent_forked_boto3_tasks(fs_aws: ClientFactory, fs_ecs: EcsEnv) -> None:
    ecs = fs_aws("ecs")
    run_id = unique("run")
    code = (
        "import os, boto3\n"
        "boto3.client('dynamodb').put_item(TableName=os.environ['TABLE'],"
        " Item={'id': {'S': os.environ['RUN_ID'] + '-' + os.environ['INDEX']}})\n"
    )
    arn = register(ecs, ["python", "-c", code], {"TABLE": fs_ecs.table, "RUN_ID": run_id})
    count = 100

    def start(index: int) -> str:
        overrides = {
            "containerOverrides": [{"name": "main", "environment": [{"name": "INDEX", "value": str(index)}]}]
        }
        task_arn: str = run(ecs, fs_ecs, arn, overrides=overrides)["taskArn"]
        return task_arn

    t0 = time.perf_counter()
    with ThreadPoolExecutor(max_workers=20) as pool:
        task_arns = list(pool.map(start, range(count)))
    tasks = [wait_task(ecs, fs_ecs, task_arn, timeout=120) for task_arn in task_arns]
    elapsed = time.perf_counter() - t0
    assert [t["containers"][0].get("exitCode") for t in tasks] == [0] * count
    ddb = fs_aws("dynamodb")
    keys = [{"id": {"S": f"{run_id}-{i}"}} for i in range(count)]
    found = 0
    for start_at in range(0, count, 100):
        response = ddb.batch_get_item(RequestItems={fs_ecs.table: {"Keys": keys[start_at : start_at + 100]}})
        found += len(response["Responses"][fs_ecs.table])
    assert found == count
    print(f"\n100 forked boto3 tasks: all stopped after {elapsed:.2f} s", file=sys.stderr)


# -- spawn mode --------------------------------------------------------------------------------


@pytest.fixture(scope="module")
def spawn_cloud() -> Iterator[LocalCloudInfo]:
    yield from _stack("spawn")


def test_spawn_mode_runs_a_fresh_interpreter(spawn_cloud: LocalCloudInfo) -> None:
    aws = make_client_factory(spawn_cloud)
    ecs_env = make_ecs_env(aws)
    environment = {"GREETING": "hello"}
    task, log = _run_logged(aws, ecs_env, spawn_cloud, ["python", "-c", PROBE, "a"], environment)
    assert task["containers"][0].get("exitCode") == 0, (task, log)
    probe = _probe(log)
    assert probe["preloaded"] is False
    assert probe["environ"] == _expected_env(spawn_cloud, environment, task["taskArn"])
    assert probe["argv"] == ["-c", "a"]
    assert probe["sigint"] == "<built-in function default_int_handler>"
    task, log = _run_logged(aws, ecs_env, spawn_cloud, ["python", "-c", "import sys; sys.exit(3)"])
    assert task["containers"][0].get("exitCode") == 3, task


# -- helpers -----------------------------------------------------------------------------------


def test_cli_ecs_mode_option() -> None:
    from perflab.cli import build_parser
    from perflab.local.stack import default_ecs_mode

    parser = build_parser()
    assert parser.parse_args(["local", "up", "--ecs-mode", "spawn"]).ecs_mode == "spawn"
    assert parser.parse_args(["local", "up"]).ecs_mode == default_ecs_mode()
    assert default_ecs_mode() == ("forkserver" if (os.cpu_count() or 1) < 8 else "spawn")
    with pytest.raises(SystemExit) as exited:
        parser.parse_args(["local", "up", "--ecs-mode", "docker"])
    assert exited.value.code == 2
