"""`perflab bench` refuses bad input with exit 2 naming the field, before starting anything."""

from __future__ import annotations

import os
import subprocess
import sys
from pathlib import Path

import pytest


@pytest.mark.parametrize(
    ("args", "env", "message"),
    [
        (["--invocations", "5000"], {}, "invocations: must be an integer from 1 to 1000 (got 5000)"),
        (["--s3-range-parts", "99"], {}, "s3_range_parts: must be an integer from 0 to 16"),
        (["--compute", "gpu"], {}, "invalid choice: 'gpu'"),
        (["--invocations", "0"], {}, "must be a positive integer"),
        ([], {"PERFLAB_RDS_LAYOUT": "foo"}, "rds_layout: must be one of chunks, large_object (got 'foo')"),
    ],
)
def test_bad_input_exits_2_and_runs_nothing(
    tmp_path: Path, args: list[str], env: dict[str, str], message: str
) -> None:
    out = tmp_path / "results"
    result = subprocess.run(
        [sys.executable, "-m", "perflab.cli", "bench", *args, "--out", str(out)],
        capture_output=True,
        text=True,
        timeout=60,
        env={**os.environ, **env},
        cwd=tmp_path,
    )
    assert result.returncode == 2
    assert message in result.stderr
    assert not out.exists()
