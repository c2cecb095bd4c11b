"""`perflab local up` prints where the API is and its token; the token is kept for the stack."""

from __future__ import annotations

import json
import os
import stat
import subprocess
import sys
import urllib.error
import urllib.request
from pathlib import Path

import pytest

from perflab.deploy_api import TOKEN_FILE

pytestmark = pytest.mark.local


def perflab(*args: str, cwd: Path, env: dict[str, str]) -> subprocess.CompletedProcess[str]:
    return subprocess.run(
        [sys.executable, "-m", "perflab.cli", *args],
        cwd=cwd,
        env=env,
        capture_output=True,
        text=True,
        timeout=120,
    )


def exports_of(stdout: str) -> dict[str, str]:
    return dict(
        line.removeprefix("export ").split("=", 1)
        for line in stdout.splitlines()
        if line.startswith("export ")
    )


def up_and_down(tmp_path: Path, state: Path, env: dict[str, str]) -> dict[str, str]:
    args = ("local", "up", "--detach", "--port", "0", "--no-database", "--state-dir", str(state))
    up = perflab(*args, cwd=tmp_path, env=env)
    assert up.returncode == 0, up.stderr
    try:
        exports = exports_of(up.stdout)
        api = exports["PERFLAB_API_URL"] + "/health/performance"
        # `local up` deployed perflab's API behind the stand-in: it answers...
        with urllib.request.urlopen(api + "/runs", timeout=30) as response:
            assert response.status == 200
            assert json.loads(response.read())["runs"] == []
        # ...and the printed token is the deployed one: without it 401, with it the request is
        # judged on its merits (a bad compute: 400 naming the field, nothing started).
        body = json.dumps({"compute": "gpu", "storage": "s3", "invocations": 1}).encode()
        for token, code in ((None, 401), ("wrong", 401), (exports["PERFLAB_API_TOKEN"], 400)):
            headers = {"content-type": "application/json"}
            if token:
                headers["authorization"] = f"Bearer {token}"
            request = urllib.request.Request(api + "/workload", data=body, headers=headers, method="POST")
            with pytest.raises(urllib.error.HTTPError) as caught:
                urllib.request.urlopen(request, timeout=30)
            assert caught.value.code == code
            if code == 400:
                assert json.loads(caught.value.read())["field"] == "compute"
        return exports
    finally:
        assert perflab("local", "down", "--state-dir", str(state), cwd=tmp_path, env=env).returncode == 0


def test_local_up_prints_api_url_and_a_stored_token(tmp_path: Path) -> None:
    env = {k: v for k, v in os.environ.items() if k != "PERFLAB_API_TOKEN"}
    state = tmp_path / "state"
    first = up_and_down(tmp_path, state, env)
    api_url = first["PERFLAB_API_URL"]
    assert api_url.startswith("http://127.0.0.1:") and api_url != first["AWS_ENDPOINT_URL"]
    assert not api_url.endswith(":4567")  # --port 0 picks free ports for both
    token = first["PERFLAB_API_TOKEN"]
    assert len(token) >= 32
    token_file = state / TOKEN_FILE
    assert token_file.read_text() == token
    assert stat.S_IMODE(token_file.stat().st_mode) == 0o600
    # The stack's token stays the same across restarts; PERFLAB_API_TOKEN overrides it.
    assert up_and_down(tmp_path, state, env)["PERFLAB_API_TOKEN"] == token
    chosen = up_and_down(tmp_path, state, {**env, "PERFLAB_API_TOKEN": "my-own-token"})
    assert chosen["PERFLAB_API_TOKEN"] == "my-own-token"
