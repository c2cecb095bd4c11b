"""The ``sfn_map_*`` gaps are real: on a local cloud without those patches, each one shows.

One stack with all four patches disabled (``PERFLAB_COMPAT_DISABLE``) serves every test here; the
tests that show each patch working are in ``test_compat_sfn_map_<name>.py``.
"""

from __future__ import annotations

import contextlib
import json
from collections.abc import Iterator
from typing import Any

import botocore.exceptions
import pytest

from perflab.local.compat import DISABLE_ENV
from perflab.local.compat.sfn_map_express_processor import PATCH as EXPRESS
from perflab.local.compat.sfn_map_run_executions import PATCH as RUN_EXECUTIONS
from perflab.local.compat.sfn_map_states_errors import PATCH as STATES_ERRORS
from perflab.local.compat.sfn_map_tolerated_failure import PATCH as TOLERATED_FAILURE
from perflab.local.process import local_cloud_process
from perflab.local.stack import LocalCloudConfig
from tests.conftest import ClientFactory, make_client_factory
from tests.local import test_compat_sfn_map_tolerated_failure as tolerance
from tests.local.helpers import create_state_machine, run_state_machine, start_execution, wait_for_execution
from tests.local.test_compat_sfn_map_express_processor import express_fanout
from tests.local.test_compat_sfn_map_states_errors import inline_map

PATCHES = (EXPRESS, RUN_EXECUTIONS, STATES_ERRORS, TOLERATED_FAILURE)


@pytest.fixture(scope="module")
def gapped_sfn() -> Iterator[Any]:
    """Step Functions on a local cloud started without the ``sfn_map_*`` patches."""
    with contextlib.ExitStack() as stack:
        with pytest.MonkeyPatch.context() as env:
            env.setenv(DISABLE_ENV, ",".join(patch.name for patch in PATCHES))
            info = stack.enter_context(local_cloud_process(LocalCloudConfig(port=0, database=False)))
        aws: ClientFactory = make_client_factory(info)
        yield aws("stepfunctions")


def test_tolerance_is_ignored(gapped_sfn: Any) -> None:
    described = run_state_machine(
        gapped_sfn, tolerance.fanout({}), {"items": tolerance.items(4, {1})}, name_prefix="gap"
    )

    assert described["status"] == "SUCCEEDED"
    assert json.loads(described["output"])["results"] == [{"value": 0}, None, {"value": 2}, {"value": 3}]


def test_integer_percentage_is_rejected(gapped_sfn: Any) -> None:
    # moto's InvalidDefinition reaches boto3 without an error code: match the message.
    with pytest.raises(botocore.exceptions.ClientError, match=r"ASLParserException.*100"):
        create_state_machine(gapped_sfn, tolerance.fanout({"ToleratedFailurePercentage": 100}), "gap")


def test_express_processor_is_rejected(gapped_sfn: Any) -> None:
    with pytest.raises(botocore.exceptions.ClientError, match=r"ASLParserException.*EXPRESS"):
        create_state_machine(gapped_sfn, express_fanout(), "gap")


def test_map_run_has_no_listable_executions(gapped_sfn: Any) -> None:
    definition = tolerance.fanout({})
    execution_arn = start_execution(
        gapped_sfn, create_state_machine(gapped_sfn, definition, "gap"), {"items": tolerance.items(2, set())}
    )
    assert wait_for_execution(gapped_sfn, execution_arn, timeout=60)["status"] == "SUCCEEDED"
    (map_run,) = gapped_sfn.list_map_runs(executionArn=execution_arn)["mapRuns"]

    with pytest.raises(botocore.exceptions.ClientError) as raised:
        gapped_sfn.list_executions(mapRunArn=map_run["mapRunArn"])
    assert raised.value.response["ResponseMetadata"]["HTTPStatusCode"] == 500


def test_states_error_in_inline_map_becomes_states_runtime(gapped_sfn: Any) -> None:
    definition = inline_map("States.TaskFailed", ["States.TaskFailed"])
    described = run_state_machine(gapped_sfn, definition, {"items": [1]}, name_prefix="gap")

    assert described["status"] == "FAILED"
    assert described["error"] == "States.Runtime"
