"""Security of a running local cloud: it listens on loopback only, and neither the API token nor the
database password reaches a log, even with debug logging while perflab deploys itself."""

from __future__ import annotations

import json
import os
import stat
import subprocess
import sys
from pathlib import Path
from urllib.parse import urlsplit

import pytest

from perflab.local.stack import LocalCloudInfo

pytestmark = pytest.mark.local

TOKEN = "tok-known-to-the-test-5c1d"
PASSWORD = "pw-known-to-the-test-9f3a"


def listening_addresses(port: int) -> set[str]:
    """Local addresses with a LISTEN socket on ``port`` (``/proc/net/tcp`` and ``tcp6``)."""
    found = set()
    for table in ("/proc/net/tcp", "/proc/net/tcp6"):
        for line in Path(table).read_text().splitlines()[1:]:
            local, state = line.split()[1], line.split()[3]
            address, port_hex = local.rsplit(":", 1)
            if state == "0A" and int(port_hex, 16) == port:  # 0A = LISTEN
                if len(address) == 8:
                    found.add(".".join(str(int(address[i : i + 2], 16)) for i in (6, 4, 2, 0)))
                else:
                    found.add(address)
    return found


def test_the_stack_listens_on_loopback_only(local_cloud: LocalCloudInfo) -> None:
    assert local_cloud.api_url is not None
    for url in (local_cloud.endpoint_url, local_cloud.api_url):
        parts = urlsplit(url)
        assert parts.hostname == "127.0.0.1"
        assert parts.port is not None and listening_addresses(parts.port) == {"127.0.0.1"}
    assert local_cloud.database_url is not None
    db_port = urlsplit(local_cloud.database_url).port
    assert db_port is not None and listening_addresses(db_port) == {"127.0.0.1"}


def test_token_and_database_password_never_reach_a_log(tmp_path: Path) -> None:
    """``perflab -v local up --detach`` deploys perflab with debug logging (botocore then prints every
    request body, the functions' environments included): the known token and password appear only
    on the ``export`` lines meant for the shell, never in a log."""
    state = tmp_path / "state"
    env = {**os.environ, "PERFLAB_API_TOKEN": TOKEN, "PERFLAB_DB_PASSWORD": PASSWORD}
    cli = [sys.executable, "-m", "perflab.cli"]
    up = subprocess.run(
        [*cli, "-v", "local", "up", "--detach", "--port", "0", "--state-dir", str(state)],
        cwd=tmp_path,
        env=env,
        capture_output=True,
        text=True,
        timeout=180,
    )
    try:
        assert up.returncode == 0, up.stderr[-3000:]
        assert "perflab deployed:" in up.stdout and "Making request for OperationModel" in up.stderr
        assert "CreateFunction" in up.stderr  # the function environments were logged, redacted
        for secret in (TOKEN, PASSWORD):
            assert secret not in up.stderr
            shown = [line for line in up.stdout.splitlines() if secret in line]
            assert shown and all(line.startswith("export ") for line in shown), shown
        assert "***" in up.stderr
        assert stat.S_IMODE((state / "local.json").stat().st_mode) == 0o600  # it holds the URL
        pid = json.loads((state / "local.json").read_text())["pid"]
        argv = Path(f"/proc/{pid}/cmdline").read_bytes().decode(errors="replace")
        assert PASSWORD not in argv and TOKEN not in argv
    finally:
        down = subprocess.run(
            [*cli, "local", "down", "--state-dir", str(state)], cwd=tmp_path, capture_output=True, text=True
        )
    assert down.returncode == 0, down.stderr
    logs = [state / "local.log", *state.glob("postgres/*.log"), *state.glob("postgres/*.json")]
    assert (state / "local.log").is_file()
    for path in logs:
        text = path.read_text(errors="replace")
        assert TOKEN not in text and PASSWORD not in text, path
