"""Step Functions ``dynamodb:*`` integration results carry the SDK HTTP metadata, as on AWS.

AWS's DynamoDB integration (``arn:aws:states:::dynamodb:putItem`` / ``getItem`` / ``updateItem`` /
``deleteItem``) returns the service response plus the Java SDK's metadata::

    "SdkHttpMetadata": {"AllHttpHeaders": {"Content-Type": ["application/x-amz-json-1.0"], ...},
                        "HttpHeaders": {"Content-Type": "application/x-amz-json-1.0", ...},
                        "HttpStatusCode": 200},
    "SdkResponseMetadata": {"RequestId": "..."}

moto drops boto3's ``ResponseMetadata`` and returns neither, so a state machine that reads, say,
``$.SdkHttpMetadata.HttpStatusCode`` fails locally. This patch builds both from the response's
``ResponseMetadata``.
"""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any

from perflab.local.compat import CompatPatch
from perflab.local.compat.sfn_support import import_attr, is_marked, mark, source_of

NAME = "sfn_dynamodb_metadata"
_TARGET = (
    "moto.stepfunctions.parser.asl.component.state.exec.state_task.service."
    "state_task_service_dynamodb.StateTaskServiceDynamoDB"
)
_BOTO_CLIENT_FOR = "moto.stepfunctions.parser.asl.utils.boto_client.boto_client_for"

#: Header names as AWS's SDK reports them (botocore lower-cases them).
_HEADER_NAMES = {"x-amzn-requestid": "x-amzn-RequestId", "x-amz-crc32": "x-amz-crc32"}


def header_name(name: str) -> str:
    lowered = name.lower()
    return _HEADER_NAMES.get(lowered) or "-".join(part.capitalize() for part in lowered.split("-"))


def sdk_metadata(response_metadata: Mapping[str, Any]) -> dict[str, Any]:
    """``SdkHttpMetadata`` and ``SdkResponseMetadata`` from boto3's ``ResponseMetadata``."""
    raw_headers: Mapping[str, Any] = response_metadata.get("HTTPHeaders") or {}
    headers = {header_name(name): str(value) for name, value in raw_headers.items()}
    request_id = str(response_metadata.get("RequestId") or raw_headers.get("x-amzn-requestid") or "")
    return {
        "SdkHttpMetadata": {
            "AllHttpHeaders": {name: [value] for name, value in headers.items()},
            "HttpHeaders": headers,
            "HttpStatusCode": int(response_metadata.get("HTTPStatusCode", 200)),
        },
        "SdkResponseMetadata": {"RequestId": request_id},
    }


def _eval_service_task(
    self: Any,
    env: Any,
    resource_runtime_part: Any,
    normalised_parameters: dict[str, Any],
    state_credentials: Any,
) -> None:
    boto_client_for: Any = import_attr(_BOTO_CLIENT_FOR)
    client = boto_client_for(
        service=self._get_boto_service_name(),
        region=resource_runtime_part.region,
        state_credentials=state_credentials,
    )
    response = getattr(client, self._get_boto_service_action())(**normalised_parameters)
    metadata = response.pop("ResponseMetadata", None) or {}
    response.update(sdk_metadata(metadata))
    env.stack.append(response)


def needed() -> bool:
    cls = import_attr(_TARGET)
    method = None if cls is None else cls.__dict__.get("_eval_service_task")
    if method is None or is_marked(method) or import_attr(_BOTO_CLIENT_FOR) is None:
        return False
    source = source_of(method) or ""
    # The gap: the SDK metadata is dropped and nothing builds SdkHttpMetadata.
    return 'response.pop("ResponseMetadata", None)' in source and "SdkHttpMetadata" not in source


def apply() -> None:
    cls = import_attr(_TARGET)
    if cls is not None and not is_marked(cls.__dict__.get("_eval_service_task")):
        cls._eval_service_task = mark(_eval_service_task, NAME)


PATCH = CompatPatch(
    name=NAME,
    gap="DynamoDB integration results lack SdkHttpMetadata and SdkResponseMetadata",
    touches=(
        f"{_TARGET}._eval_service_task",
        f"{_TARGET}._get_boto_service_name",
        f"{_TARGET}._get_boto_service_action",
        _BOTO_CLIENT_FOR,
    ),
    needed=needed,
    apply=apply,
)
