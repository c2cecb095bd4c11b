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
        "local", "up", "--detach", "--port", "0", "--no-database", "--state-dir", str(state), cwd=tmp_path
    )
    assert up.returncode == 0, up.stderr
    exports = dict(
        line.removeprefix("export ").split("=", 1)
        for line in up.stdout.splitlines()
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
        "local", "up", "--detach", "--port", "0", "--no-database", "--state-dir", str(state), cwd=tmp_path
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
