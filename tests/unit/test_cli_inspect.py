"""`perflab inspect` against an endpoint that is not there: one clear line and exit 2, no traceback."""

from __future__ import annotations

import os
import socket
import subprocess
import sys
from pathlib import Path


def test_unreachable_endpoint_is_one_line_and_exit_2(tmp_path: Path) -> None:
    with socket.socket() as probe:  # a port nothing listens on: bound, never listening
        probe.bind(("127.0.0.1", 0))
        port = probe.getsockname()[1]
        result = subprocess.run(
            [
                sys.executable,
                "-m",
                "perflab.cli",
                "inspect",
                "run-x",
                "--endpoint",
                f"http://127.0.0.1:{port}",
            ],
            capture_output=True,
            text=True,
            timeout=60,
            env={**os.environ, "AWS_MAX_ATTEMPTS": "1"},
            cwd=tmp_path,
        )
    assert result.returncode == 2
    assert f"cannot reach http://127.0.0.1:{port}" in result.stderr
    assert "Traceback" not in result.stderr
