"""Helpers for local-cloud tests."""

from __future__ import annotations

import time
from typing import Any


def wait_for_execution(sfn: Any, execution_arn: str, timeout: float = 120.0) -> dict[str, Any]:
    """Poll DescribeExecution until the execution leaves RUNNING (as a client of AWS would)."""
    deadline = time.monotonic() + timeout
    while True:
        described: dict[str, Any] = sfn.describe_execution(executionArn=execution_arn)
        if described["status"] != "RUNNING":
            return described
        if time.monotonic() > deadline:
            raise AssertionError(f"{execution_arn} still RUNNING after {timeout} s")
        time.sleep(0.1)
