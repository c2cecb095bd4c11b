"""`perflab local up --detach` / `down` / `status` from the command line, as a user runs them."""

from __future__ import annotations

import os
import subprocess
import sys
from pathlib import Path

import boto3
import pytest


def perflab(*args: str, cwd: Path) -> subprocess.CompletedProcess[str]:
    return subprocess.run(
        [sys.executable, "-m", "perflab.cli", *args], cwd=cwd, capture_output=True, text=True, timeout=120
    )


def test_detach_status_down_leaves_nothing_running(tmp_path: Path) -> None:
    state = tmp_path / "state"
    up = perflab(
        "local",
        "up",
        "--detach",
        "--port",
        "0",
        "--no-database",
        "--no-deploy",
        "--state-dir",
        str(state),
        cwd=tmp_path,
    )
    assert up.returncode == 0, up.stderr
    try:
        check_detached_stack(tmp_path, state, up.stdout)
    finally:  # a failed check must not leave the detached stack running
        from perflab.local import process

        process.down(state)


def check_detached_stack(tmp_path: Path, state: Path, up_stdout: str) -> None:
    exports = dict(
        line.removeprefix("export ").split("=", 1)
        for line in up_stdout.splitlines()
        if line.startswith("export ")
    )
    endpoint = exports["AWS_ENDPOINT_URL"]
    assert endpoint.startswith("http://127.0.0.1:")
    sfn = boto3.client(
        "stepfunctions",
        endpoint_url=endpoint,
        region_name=exports["AWS_DEFAULT_REGION"],
        aws_access_key_id=exports["AWS_ACCESS_KEY_ID"],
        aws_secret_access_key=exports["AWS_SECRET_ACCESS_KEY"],
    )
    assert sfn.list_state_machines()["stateMachines"] == []
    status = perflab("local", "status", "--state-dir", str(state), cwd=tmp_path)
    assert status.returncode == 0 and endpoint in status.stdout
    again = perflab(
        "local",
        "up",
        "--detach",
        "--port",
        "0",
        "--no-database",
        "--no-deploy",
        "--state-dir",
        str(state),
        cwd=tmp_path,
    )
    assert again.returncode != 0 and "already running" in again.stderr
    pid = int(status.stdout.split("pid ")[1].split(",")[0])
    pgid = os.getpgid(pid)

    down = perflab("local", "down", "--state-dir", str(state), cwd=tmp_path)
    assert down.returncode == 0 and "stopped" in down.stdout
    with pytest.raises(ProcessLookupError):
        os.killpg(pgid, 0)
    assert perflab("local", "status", "--state-dir", str(state), cwd=tmp_path).returncode == 1


@pytest.mark.parametrize(
    ("args", "message"),
    [
        (["local", "up", "--port", "70000"], "--port must be 0-65535"),
        (["local", "up", "--port", "abc"], "--port must be an integer"),
        (["local", "up", "--lambda-mode", "docker"], "invalid choice: 'docker'"),
        (["local", "up", "--postgres-max-connections", "0"], "must be a positive integer"),
        (["local", "sideways"], "invalid choice: 'sideways'"),
    ],
)
def test_bad_arguments_exit_2_naming_the_field(tmp_path: Path, args: list[str], message: str) -> None:
    result = perflab(*args, cwd=tmp_path)
    assert result.returncode == 2
    assert message in result.stderr


def test_ctrl_c_in_the_foreground_stops_everything(tmp_path: Path) -> None:
    """Ctrl-C (SIGINT to the foreground process group) stops the stack, its Lambda environments,
    its ECS task processes and its PostgreSQL: nothing of it is left running."""
    import json
    import signal

    from perflab.local.clients import LocalClients
    from perflab.local.smoke import deploy, run_fanout

    state = tmp_path / "state"
    proc = subprocess.Popen(
        [sys.executable, "-m", "perflab.cli", "local", "up", "--port", "0", "--state-dir", str(state)],
        cwd=tmp_path,
        stdout=subprocess.PIPE,
        stderr=subprocess.DEVNULL,
        text=True,
        start_new_session=True,
    )
    try:
        assert proc.stdout is not None
        endpoint = ""
        for line in proc.stdout:
            if line.startswith("export AWS_ENDPOINT_URL="):
                endpoint = line.strip().split("=", 1)[1]
                break
        assert endpoint, "the stack never printed its endpoint"
        clients = LocalClients(endpoint, "us-east-1")
        deployment = deploy(clients, max_concurrency=5)
        assert run_fanout(clients, deployment, "lambda", 5, "ctrl-c").status == "SUCCEEDED"
        assert run_fanout(clients, deployment, "ecs-sync", 2, "ctrl-c").status == "SUCCEEDED"
        postgres_pid = json.loads((state / "postgres" / "server.json").read_text())["pid"]
        pgid = os.getpgid(proc.pid)
        os.kill(postgres_pid, 0)  # running

        os.killpg(pgid, signal.SIGINT)
        try:
            returncode = proc.wait(timeout=60)
        except subprocess.TimeoutExpired:
            from perflab.local.process import dump_threads

            dump = tmp_path / "stuck-at-stop.txt"
            dump_threads(proc.pid, dump)
            threads = dump.read_text(errors="replace")[-20_000:] if dump.exists() else "(no py-spy dump)"
            raise AssertionError(
                f"the stack did not stop within 60 s of Ctrl-C; its threads:\n{threads}"
            ) from None
        assert returncode == 0
    finally:
        if proc.poll() is None:
            os.killpg(proc.pid, signal.SIGKILL)
            proc.wait()
        if proc.stdout is not None:
            proc.stdout.close()
    with pytest.raises(ProcessLookupError):
        os.killpg(pgid, 0)
    with pytest.raises(ProcessLookupError):
        os.kill(postgres_pid, 0)
    assert not (state / "local.json").exists()
