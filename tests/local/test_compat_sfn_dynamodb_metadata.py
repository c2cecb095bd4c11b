"""sfn_dynamodb_metadata: dynamodb:* integration results carry SdkHttpMetadata, as on AWS.

The gap is shown in ``test_compat_sfn_gaps.py``.
"""

from __future__ import annotations

import json
from typing import Any

from perflab.local.compat.sfn_dynamodb_metadata import header_name, sdk_metadata
from tests.conftest import ClientFactory
from tests.local.helpers import create_table, run_state_machine


def test_metadata_is_shaped_like_the_java_sdk() -> None:
    metadata = sdk_metadata(
        {
            "RequestId": "r-1",
            "HTTPStatusCode": 200,
            "HTTPHeaders": {"content-type": "application/x-amz-json-1.0", "x-amzn-requestid": "r-1"},
        }
    )
    assert metadata == {
        "SdkHttpMetadata": {
            "AllHttpHeaders": {
                "Content-Type": ["application/x-amz-json-1.0"],
                "x-amzn-RequestId": ["r-1"],
            },
            "HttpHeaders": {"Content-Type": "application/x-amz-json-1.0", "x-amzn-RequestId": "r-1"},
            "HttpStatusCode": 200,
        },
        "SdkResponseMetadata": {"RequestId": "r-1"},
    }
    assert header_name("content-length") == "Content-Length"


def put_and_get(aws: ClientFactory) -> dict[str, Any]:
    table = create_table(aws, "table")
    definition = {
        "StartAt": "Put",
        "States": {
            "Put": {
                "Type": "Task",
                "Resource": "arn:aws:states:::dynamodb:putItem",
                "Parameters": {"TableName": table, "Item": {"pk": {"S": "a"}}},
                "ResultPath": "$.put",
                "Next": "Get",
            },
            "Get": {
                "Type": "Task",
                "Resource": "arn:aws:states:::dynamodb:getItem",
                "Parameters": {"TableName": table, "Key": {"pk": {"S": "a"}}},
                "ResultPath": "$.get",
                "End": True,
            },
        },
    }
    described = run_state_machine(aws("stepfunctions"), definition)
    assert described["status"] == "SUCCEEDED", described
    output: dict[str, Any] = json.loads(described["output"])
    return output


def test_put_and_get_item_results_carry_sdk_metadata(aws: ClientFactory) -> None:
    output = put_and_get(aws)
    assert output["get"]["Item"] == {"pk": {"S": "a"}}
    for result in (output["put"], output["get"]):
        http = result["SdkHttpMetadata"]
        assert http["HttpStatusCode"] == 200
        assert http["HttpHeaders"]["Content-Type"].startswith("application/x-amz-json")
        assert http["AllHttpHeaders"]["Content-Type"] == [http["HttpHeaders"]["Content-Type"]]
        assert result["SdkResponseMetadata"]["RequestId"]
