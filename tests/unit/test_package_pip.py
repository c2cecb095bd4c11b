"""The real thing, once: pip installs Lambda's manylinux wheels into the download zip, and the extracted zip
imports on its own (no venv, no site-packages) as Lambda's runtime would import it, with tracing on.

Slower than the other unit tests (a pip install from the package index, about 15 s) but it needs no AWS:
this machine is Linux x86_64 with Python 3.11, the zip's own platform.
"""

from __future__ import annotations

import json
import platform
import subprocess
import sys
import zipfile
from importlib import metadata
from pathlib import Path

import pytest

from perflab import package as pkg


@pytest.mark.skipif(
    platform.machine() != "x86_64" or sys.platform != "linux", reason="imports x86_64 Linux wheels"
)
def test_download_zip_with_real_wheels_imports_without_the_venv(tmp_path: Path) -> None:
    built = pkg.build_package(tmp_path / "out", "x86_64", functions=("download",))
    artifact = built.artifacts["download"]
    assert artifact.unzipped_bytes < pkg.UNZIPPED_LIMIT_BYTES and artifact.direct_upload_ok
    # The libraries are the versions the tests run with.
    for name in ("boto3", "botocore", "pydantic", "psycopg", "aws-lambda-powertools", "aws-xray-sdk"):
        assert artifact.distributions[name] == metadata.version(name)
    manifest = json.loads(built.manifest_path.read_text())
    assert manifest["functions"]["download"]["sha256"] == artifact.sha256

    task = tmp_path / "var-task"
    zipfile.ZipFile(artifact.path).extractall(task)
    code = (
        "import sys; sys.path.insert(0, sys.argv[1]); import handler, aws_xray_sdk, boto3, psycopg; "
        "from perflab.observability import tracer; "
        "print(handler.__file__, boto3.__file__, psycopg.pq.__impl__, tracer.disabled)"
    )
    env = {
        "PATH": "/usr/bin:/bin",
        "LAMBDA_TASK_ROOT": str(task),
        "AWS_LAMBDA_FUNCTION_NAME": "perflab-download",
        "AWS_REGION": "us-east-1",
    }
    result = subprocess.run(
        [sys.executable, "-I", "-S", "-B", "-c", code, str(task)],
        capture_output=True,
        text=True,
        env=env,
        timeout=120,
        check=False,
    )
    assert result.returncode == 0, result.stderr
    handler_file, boto3_file, impl, tracing_disabled = result.stdout.split()
    assert handler_file == str(task / "handler.py") and boto3_file.startswith(str(task))
    assert impl == "binary" and tracing_disabled == "False"
