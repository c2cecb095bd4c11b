"""The gaps the Step Functions compat patches close are real: each scenario fails without its patch.

Starting a stack costs seconds, so the patches whose gaps do not interfere share one stack that
leaves them all out. ``sfn_service_normalisation`` (which these scenarios rely on) and
``sfn_parser_scope`` (whose gap poisons every later definition) show theirs in their own files.
"""

from __future__ import annotations

from collections.abc import Iterator

import pytest
from botocore.exceptions import ClientError

from tests.conftest import ClientFactory
from tests.local.helpers import run_state_machine
from tests.local.sfn_compat import stack_without
from tests.local.test_compat_sfn_callback_early_outcome import answered_by_the_integration_itself
from tests.local.test_compat_sfn_callback_heartbeat_error import run_all
from tests.local.test_compat_sfn_callback_sync_heartbeat import run_sync_longer_than_heartbeat
from tests.local.test_compat_sfn_dynamodb_metadata import put_and_get
from tests.local.test_compat_sfn_start_execution_name import start_unnamed_twice
from tests.local.test_compat_sfn_timestamps import describe_state_machine_output

LEFT_OUT = (
    "sfn_callback_early_outcome",
    "sfn_callback_heartbeat_error",
    "sfn_callback_sync_heartbeat",
    "sfn_dynamodb_metadata",
    "sfn_start_execution_name",
    "sfn_timestamps",
)


@pytest.fixture(scope="module")
def unpatched() -> Iterator[ClientFactory]:
    with stack_without(*LEFT_OUT) as aws:
        yield aws


def test_early_outcome_is_lost(unpatched: ClientFactory) -> None:
    described = run_state_machine(
        unpatched("stepfunctions"), answered_by_the_integration_itself(), {"items": [{"i": 0}]}
    )
    assert described["status"] == "FAILED"


def test_heartbeat_timeout_is_reported_as_states_timeout(unpatched: ClientFactory) -> None:
    (uncaught,) = run_all(unpatched, [None])
    assert (uncaught["status"], uncaught.get("error")) == ("FAILED", "States.Timeout")


def test_sync_task_fails_waiting_for_heartbeats(unpatched: ClientFactory) -> None:
    described = run_sync_longer_than_heartbeat(unpatched)
    assert described["status"] == "FAILED"
    assert "Timeout" in str(described.get("error"))


def test_dynamodb_results_lack_the_metadata(unpatched: ClientFactory) -> None:
    output = put_and_get(unpatched)
    assert "SdkHttpMetadata" not in output["put"]
    assert "SdkHttpMetadata" not in output["get"]


def test_second_unnamed_start_fails(unpatched: ClientFactory) -> None:
    with pytest.raises(ClientError, match="ExecutionAlreadyExists"):
        start_unnamed_twice(unpatched)


def test_timestamps_break_describe_execution(unpatched: ClientFactory) -> None:
    with pytest.raises(ClientError, match=r"\(500\) when calling the DescribeExecution"):
        describe_state_machine_output(unpatched)
